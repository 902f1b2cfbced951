# frozen_string_literal: true

module DeskpilotWebhooks
  # after_*_commit callbacks on Issue and TimeEntry, as acts_as_webhookable adds in Redmine 7.
  module Hooks
    extend ActiveSupport::Concern

    included do
      after_create_commit { DeskpilotWebhooks.trigger(self, 'created') }
      after_update_commit { DeskpilotWebhooks.trigger(self, 'updated') }
      after_destroy_commit { DeskpilotWebhooks.trigger(self, 'deleted') }
    end
  end
end
