# frozen_string_literal: true

module DeskpilotWebhooks
  # A request carrying X-Skip-Webhooks (any non-empty value) sends no webhook: the loop guard
  # API clients such as Deskpilot set on their own writes.
  module SkipHeader
    extend ActiveSupport::Concern

    included do
      around_action :deskpilot_webhooks_skip_scope
    end

    private

    def deskpilot_webhooks_skip_scope
      Thread.current[DeskpilotWebhooks::SKIP] = request.headers['X-Skip-Webhooks'].present?
      yield
    ensure
      Thread.current[DeskpilotWebhooks::SKIP] = nil
    end
  end
end
