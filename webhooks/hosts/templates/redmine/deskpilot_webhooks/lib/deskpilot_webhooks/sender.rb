# frozen_string_literal: true

require 'net/http'
require 'openssl'

module DeskpilotWebhooks
  # One background thread per Redmine process posts the payloads in order, so no web request
  # waits for Deskpilot. Each payload is tried up to 5 times (after 2, 10, 30 and 60 s) on a
  # connection error, a timeout, 408, 429 or 5xx; any other answer ends it. The queue holds
  # at most QUEUE_LIMIT payloads; beyond that new ones are dropped with a log line (Deskpilot's
  # reconciliation polls what was missed).
  module Sender
    DELAYS = [2, 10, 30, 60].freeze
    QUEUE_LIMIT = 1000
    RETRIED = [408, 429].freeze
    @lock = Mutex.new

    class << self
      attr_writer :delays

      def delays
        @delays || DELAYS
      end

      def enqueue(url, secret, body)
        queue = worker_queue
        if queue.size >= QUEUE_LIMIT
          Rails.logger.error("deskpilot_webhooks: queue full, dropped a payload for #{safe(url)}")
          return
        end
        queue << [url, secret, body]
      end

      def signature(secret, body)
        'sha256=' + OpenSSL::HMAC.hexdigest(OpenSSL::Digest.new('sha256'), secret, body)
      end

      def deliver(url, secret, body)
        attempts = delays.size + 1
        attempts.times do |i|
          outcome = attempt(url, secret, body)
          return true if outcome == :ok
          if outcome == :refused || i == attempts - 1
            Rails.logger.error("deskpilot_webhooks: gave up on #{safe(url)} after #{i + 1} " \
                               'attempt(s)')
            return false
          end
          sleep(delays[i])
        end
        false
      end

      private

      def worker_queue
        @lock.synchronize do
          if @pid != Process.pid || @thread.nil? || !@thread.alive?
            @pid = Process.pid
            @queue = Queue.new
            @thread = Thread.new { run(@queue) }
            @thread.name = 'deskpilot_webhooks' if @thread.respond_to?(:name=)
          end
          @queue
        end
      end

      def run(queue)
        loop do
          url, secret, body = queue.pop
          begin
            deliver(url, secret, body)
          rescue StandardError => e
            Rails.logger.error("deskpilot_webhooks: #{e.class}: #{e.message}")
          end
        end
      end

      def attempt(url, secret, body)
        code = post(url, secret, body).code.to_i
        return :ok if code.between?(200, 299)

        Rails.logger.warn("deskpilot_webhooks: #{safe(url)} answered #{code}")
        code >= 500 || RETRIED.include?(code) ? :retry : :refused
      rescue StandardError => e
        Rails.logger.warn("deskpilot_webhooks: #{safe(url)}: #{e.class}: #{e.message}")
        :retry
      end

      def post(url, secret, body)
        uri = URI.parse(url)
        headers = { 'Accept' => '*/*', 'Content-Type' => 'application/json',
                    'User-Agent' => "Redmine deskpilot_webhooks/#{DeskpilotWebhooks::VERSION}" }
        headers['X-Redmine-Signature-256'] = signature(secret, body) unless secret.empty?
        Net::HTTP.start(uri.host, uri.port, use_ssl: uri.scheme == 'https',
                                            open_timeout: 10, read_timeout: 30) do |http|
          request = Net::HTTP::Post.new(uri, headers)
          request.basic_auth(uri.user, uri.password) if uri.user
          request.body = body
          http.request(request)
        end
      end

      # The URL without its path, which may hold a token.
      def safe(url)
        uri = URI.parse(url)
        "#{uri.scheme}://#{uri.host}:#{uri.port}"
      rescue URI::InvalidURIError
        '(invalid URL)'
      end
    end
  end
end
