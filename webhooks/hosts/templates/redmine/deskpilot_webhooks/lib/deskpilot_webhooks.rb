# frozen_string_literal: true

# Entry points: install the hooks, decide whether an event is sent, hand it to the sender.
module DeskpilotWebhooks
  VERSION = '1.0.0'
  SKIP = :deskpilot_webhooks_skip

  class << self
    def install
      Issue.include(DeskpilotWebhooks::Hooks) unless Issue.include?(DeskpilotWebhooks::Hooks)
      unless TimeEntry.include?(DeskpilotWebhooks::Hooks)
        TimeEntry.include(DeskpilotWebhooks::Hooks)
      end
      return if ApplicationController.include?(DeskpilotWebhooks::SkipHeader)

      ApplicationController.include(DeskpilotWebhooks::SkipHeader)
    end

    def settings
      Setting.plugin_deskpilot_webhooks || {}
    end

    # True while the current request carries X-Skip-Webhooks (set by SkipHeader).
    def skipped?
      Thread.current[SKIP] == true
    end

    # Called after commit with the record and 'created', 'updated' or 'deleted'.
    def trigger(object, action)
      conf = settings
      url = conf['url'].to_s.strip
      return if url.empty? || skipped?

      user = payload_user(conf)
      return if user.nil? || !project_selected?(conf, object.project)
      return unless action == 'deleted' || object.visible?(user)

      body = Payload.new(object, action, user).to_h.to_json
      Sender.enqueue(url, conf['secret'].to_s, body)
    rescue StandardError => e
      Rails.logger.error("deskpilot_webhooks: #{object.class.name} #{action} not sent: " \
                         "#{e.class}: #{e.message}")
    end

    private

    # The payload is rendered with this user's view (as a Redmine 7 hook renders with its
    # owner's): Deskpilot's own API user, else the first active administrator.
    def payload_user(conf)
      login = conf['user_login'].to_s.strip
      user = login.empty? ? User.active.where(admin: true).order(:id).first : User.active.find_by(login: login)
      Rails.logger.warn("deskpilot_webhooks: no active user #{login.inspect}") if user.nil?
      user
    end

    def project_selected?(conf, project)
      wanted = conf['projects'].to_s.split(/[\s,]+/).reject(&:empty?)
      wanted.empty? || (project && wanted.include?(project.identifier))
    end
  end
end
