"""The cabinet's language: the company's setting (the one its notes use), and the page texts.

:func:`company_language` is the single place the cabinet reads a company's language. It asks
the rules the notes are rendered with (``config/companies.yaml``, else
``routing.companies.<id>.language``, else ``defaults.language``, via
:func:`rules.companies.language_for`) and falls back to Ukrainian for a language the cabinet
has no texts for.
"""

from __future__ import annotations

from rules.companies import language_for
from rules.config.model import RuleSet

LANGUAGES = ("uk", "en")
DEFAULT = "uk"


def company_language(rules: RuleSet | None, company_id: str) -> str:
    """The company's configured language if the cabinet speaks it, else ``uk``."""
    lang = language_for(rules, company_id) if rules is not None else DEFAULT
    return lang if lang in LANGUAGES else DEFAULT


def pick(requested: str | None, configured: str) -> str:
    """``?lang=`` wins when the cabinet speaks it; else the company's language."""
    return requested if requested in LANGUAGES else configured


def texts(lang: str) -> dict[str, str]:
    return {key: pair[0] if lang == "uk" else pair[1] for key, pair in _TEXTS.items()}


#: key -> (Ukrainian, English)
_TEXTS: dict[str, tuple[str, str]] = {
    "title": ("Кабінет клієнта", "Client cabinet"),
    "times_in": ("Час у зоні", "Times in"),
    "tasks": ("Задачі", "Tasks"),
    "open_tasks": ("Відкриті задачі", "Open tasks"),
    "recent_tasks": ("Завершені задачі", "Finished tasks"),
    "no_tasks": ("Немає задач.", "No tasks."),
    "ticket": ("Заявка", "Ticket"),
    "subject": ("Тема", "Subject"),
    "type": ("Тип", "Type"),
    "units": ("Одиниці", "Units"),
    "status": ("Статус", "Status"),
    "accept_by": ("Прийняти до", "Accept by"),
    "resolve_by": ("Виконати до", "Resolve by"),
    "left": ("Залишилось робочого часу", "Working time left"),
    "logged": ("Час спеціаліста", "Specialist's time"),
    "estimate": ("оцінка", "estimate"),
    "credits_col": ("Кредити", "Credits"),
    "paused": ("пауза: чекаємо на вашу відповідь", "paused: waiting for your reply"),
    "moves": ("зсувається, поки пауза", "moves later while paused"),
    "overdue": ("прострочено", "overdue"),
    "on_time": ("вчасно", "on time"),
    "late": ("із запізненням", "late"),
    "accepted": ("прийнято", "accepted"),
    "deferred": ("відкладено до", "deferred to"),
    "shown_of": ("показано {first}–{last} з {total}", "showing {first}–{last} of {total}"),
    "past_end": ("на цій сторінці нічого; усього {total}",
                 "nothing on this page; {total} in all"),
    "newer": ("← Новіші", "← Newer"),
    "older": ("Старіші →", "Older →"),
    "previous": ("← Попередні", "← Previous"),
    "next": ("Наступні →", "Next →"),
    "credits": ("Кредити", "Credits"),
    "available": ("доступно", "available"),
    "reserved": ("Зарезервовано", "Reserved"),
    "balance": ("Баланс", "Balance"),
    "debt": ("Борг (овердрафт)", "Overdraft debt"),
    "lots": ("Пакети", "Packages"),
    "lot": ("Пакет", "Package"),
    "bought": ("Куплено", "Bought"),
    "expires": ("Діє до", "Expires"),
    "remaining": ("Залишок", "Remaining"),
    "expiring_soon": ("скоро згорає", "expiring soon"),
    "expired": ("згорів", "expired"),
    "statement": ("Виписка", "Statement"),
    "posted": ("Дата", "Posted"),
    "entry": ("Операція", "Entry"),
    "change": ("Зміна", "Change"),
    "running": ("Баланс після", "Balance after"),
    "csv": ("Завантажити CSV", "Download CSV"),
    "money": ("Оплати грошима", "Money charges"),
    "amount": ("Сума", "Amount"),
    "no_entries": ("Операцій ще немає.", "No entries yet."),
    "manager": ("Ваш менеджер", "Your manager"),
    "no_manager": ("Менеджера ще не призначено.", "No manager assigned yet."),
    "working_now": ("Працює зараз, до", "Working now, until"),
    "next_window": ("Наступне робоче вікно", "Next working window"),
    "schedule": ("Графік на тиждень", "Schedule this week"),
    "closed": ("вихідний", "day off"),
    "cap": ("Денний ліміт", "Daily cap"),
    "cap_usage": ("{used} з {max:задачі|задач|задач} сьогодні", "{used} of {max:task|tasks} today"),
    "no_cap": ("без денного ліміту", "no daily cap"),
    "kpis": ("Якість обслуговування", "Service quality"),
    "period": ("Період", "Period"),
    "show": ("Показати", "Show"),
    "from": ("З", "From"),
    "to": ("По", "To"),
    "language": ("Мова", "Language"),
    "hours_short": ("год", "h"),
    "minutes_short": ("хв", "min"),
    "kpi_on_time": ("Виконано вчасно", "Resolved on time"),
    "kpi_first_response_median": ("Перша відповідь, медіана (роб. хв)",
                                  "First response, median (working min)"),
    "kpi_within_1_day": ("Виконано за 1 робочий день", "Resolved within 1 working day"),
    "kpi_first_time_resolution": ("Вирішено з першого разу", "Resolved first time"),
    "kpi_csat_avg": ("Середня оцінка", "Average rating"),
    "kind_purchase": ("покупка пакета", "package bought"),
    "kind_grant": ("нарахування", "credits granted"),
    "kind_reserve": ("резерв під задачу", "reserved for a task"),
    "kind_release": ("резерв знято", "reservation released"),
    "kind_debit": ("списання за задачу", "debit for a task"),
    "kind_reversal": ("повернення списання", "debit reversed"),
    "kind_burn": ("згоряння пакета", "package expired"),
    "kind_adjust": ("коригування", "adjustment"),
    "kind_settle": ("погашення овердрафту", "overdraft settled"),
    "status_new": ("нова", "new"),
    "status_accepted": ("прийнята", "accepted"),
    "status_in_progress": ("в роботі", "in progress"),
    "status_waiting_client": ("чекаємо на вас", "waiting for you"),
    "status_on_hold": ("призупинена", "on hold"),
    "status_resolved": ("виконана", "resolved"),
    "status_closed": ("закрита", "closed"),
    "weekday_0": ("Пн", "Mon"), "weekday_1": ("Вт", "Tue"), "weekday_2": ("Ср", "Wed"),
    "weekday_3": ("Чт", "Thu"), "weekday_4": ("Пт", "Fri"), "weekday_5": ("Сб", "Sat"),
    "weekday_6": ("Нд", "Sun"),
    "read_only": ("Сторінка лише для перегляду; посилання секретне — не пересилайте його.",
                  "Read-only page; the link is secret: do not forward it."),
}
