# Deskpilot webhooks for Redmine 5.x and 6.x: posts the Redmine 7 core webhook format
# (issue.created/updated/deleted, time_entry.created/updated/deleted) to one URL, signed with
# X-Redmine-Signature-256, after commit, from a background thread with a bounded retry.
# Written for Deskpilot; the format follows redmine/redmine 7.0.0
# (app/models/webhook.rb, lib/redmine/acts/webhookable.rb, app/models/concerns/issue/webhookable.rb).
Redmine::Plugin.register :deskpilot_webhooks do
  name 'Deskpilot webhooks'
  author 'Deskpilot'
  description 'Redmine 7 style signed webhooks (issue.*, time_entry.*) for Redmine 5 and 6'
  version '1.0.0'
  requires_redmine version_or_higher: '5.0.0'
  settings default: { 'url' => '', 'secret' => '', 'user_login' => '', 'projects' => '' },
           partial: 'settings/deskpilot_webhooks'
end

# Models and controllers are patched once they can be loaded: to_prepare on Redmine 5 (plugins
# load in an initializer), after_initialize covers Redmine 6; install is idempotent.
Rails.application.config.to_prepare { DeskpilotWebhooks.install }
Rails.application.config.after_initialize { DeskpilotWebhooks.install }
