# Seeds a fresh Redmine 5 instance the way a support team would set it up, for the e2e suite.
#
#   REDMINE_INSTANCE=<name> RAILS_ENV=production bin/rails runner seed.rb IN.json OUT.json
#
# IN.json:  {"webhook_url": "...", "secret": "...", "companies": [{"identifier", "name"}],
#            "webhook_projects": [identifiers the plugin posts for; the others are polled only]}
# OUT.json: ids and API keys of what was created (users, projects, statuses, custom fields).
# Run once on a migrated database with the default data loaded (redmine:load_default_data).
require 'json'

conf = JSON.parse(File.read(ARGV[0]))
out = {}

Setting.rest_api_enabled = '1'
Setting.default_language = 'en'
Setting.plugin_deskpilot_webhooks = {
  'url' => conf['webhook_url'].to_s, 'secret' => conf['secret'].to_s, 'user_login' => 'deskpilot',
  'projects' => Array(conf['webhook_projects']).join(','),
}

# -- statuses: New, Accepted, In Progress, Waiting for client, Resolved, Closed, Rejected
status = ->(name, closed) do
  s = IssueStatus.find_by(name: name) || IssueStatus.new(name: name)
  s.is_closed = closed
  s.save!
  s
end
IssueStatus.find_by(name: 'Feedback')&.update!(name: 'Waiting for client')
statuses = {
  'new' => status.call('New', false), 'accepted' => status.call('Accepted', false),
  'in_progress' => status.call('In Progress', false),
  'waiting_client' => status.call('Waiting for client', false),
  'resolved' => status.call('Resolved', false), 'closed' => status.call('Closed', true),
  'rejected' => status.call('Rejected', true),
}
%w[new accepted in_progress waiting_client resolved closed rejected].each_with_index do |k, i|
  statuses[k].update_column(:position, i + 1)
end
out['statuses'] = statuses.transform_values(&:id)

support = Tracker.find_by(name: 'Support')
support.update!(default_status: statuses['new'])
activity = TimeEntryActivity.find_by(name: 'Development')
support_activity = TimeEntryActivity.create!(name: 'Support', active: true, is_default: true)
out['tracker_id'] = support.id
out['activity_id'] = support_activity.id
out['other_activity_id'] = activity.id

# -- roles: agents, Deskpilot's API user, clients (the default Reporter)
agent_perms = %i[view_issues add_issues edit_issues add_issue_notes view_private_notes
                 set_notes_private view_time_entries log_time edit_own_time_entries
                 edit_time_entries view_issue_watchers]
agent_role = Role.create!(name: 'Support agent', permissions: agent_perms, assignable: true,
                          issues_visibility: 'all', time_entries_visibility: 'all')
bot_role = Role.create!(name: 'Deskpilot', assignable: false, issues_visibility: 'all',
                        time_entries_visibility: 'all',
                        permissions: %i[view_issues edit_issues add_issue_notes
                                        view_private_notes set_notes_private
                                        view_time_entries log_time])
client_role = Role.find_by(name: 'Reporter')
client_role.update!(issues_visibility: 'own', permissions: %i[view_issues add_issues add_issue_notes])
# every status to every other, for agents and Deskpilot (clients only file and comment)
[agent_role, bot_role].each do |role|
  statuses.each_value do |from|
    statuses.each_value do |to|
      next if from == to
      WorkflowTransition.create!(role: role, tracker: support, old_status: from, new_status: to)
    end
  end
end

# -- custom fields Deskpilot reads and writes (Redmine 5 has no datetime format: the
#    deadlines' times live in string fields, ISO 8601 with offset)
cf = ->(name, format, **attrs) do
  f = IssueCustomField.new(name: name, field_format: format, is_for_all: true, visible: true,
                           editable: true, **attrs)
  f.trackers = [support]
  f.save!
  f
end
fields = {
  'task_type' => cf.call('Task type', 'list',
                         possible_values: %w[simple composite bug consultation implementation]),
  'units' => cf.call('Units', 'int'),
  'accept_due' => cf.call('Accept by', 'string'),
  'resolve_due' => cf.call('Resolve by', 'string'),
  'balance' => cf.call('Balance', 'int'),
}
out['custom_fields'] = fields.transform_values(&:id)

# -- users
mk_user = ->(login, first, last, mail, admin: false) do
  u = User.new(firstname: first, lastname: last, mail: mail, language: 'en')
  u.login = login
  u.admin = admin
  u.password = u.password_confirmation = SecureRandom.hex(12)
  u.status = User::STATUS_ACTIVE
  u.save!
  u.pref.update!(time_zone: 'UTC')
  u
end
admin = User.find_by(login: 'admin')
bot = mk_user.call('deskpilot', 'Deskpilot', 'Bot', 'deskpilot@support.example')
agent = mk_user.call('agent', 'Alice', 'Agent', 'alice@support.example')
users = { 'admin' => admin, 'deskpilot' => bot, 'agent' => agent }

# -- a project per client company, each with one client user
out['projects'] = {}
conf['companies'].each do |c|
  p = Project.create!(name: c['name'], identifier: c['identifier'], is_public: false,
                      enabled_module_names: %w[issue_tracking time_tracking],
                      tracker_ids: [support.id])
  p.issue_custom_field_ids = fields.values.map(&:id)
  client = mk_user.call("client-#{c['identifier']}", 'Client', c['name'],
                        "client@#{c['identifier']}.example")
  Member.create!(principal: agent, project: p, roles: [agent_role])
  Member.create!(principal: bot, project: p, roles: [bot_role])
  Member.create!(principal: client, project: p, roles: [client_role])
  users["client-#{c['identifier']}"] = client
  out['projects'][c['identifier']] = { 'id' => p.id, 'name' => p.name,
                                       'client' => "client-#{c['identifier']}" }
end

out['users'] = users.transform_values { |u| { 'id' => u.id, 'login' => u.login, 'key' => u.api_key } }
File.write(ARGV[1], JSON.pretty_generate(out))
