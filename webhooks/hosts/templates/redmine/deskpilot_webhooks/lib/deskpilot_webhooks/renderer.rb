# frozen_string_literal: true

module DeskpilotWebhooks
  # Renders one of Redmine's API templates to a Hash, outside any request, as the given user.
  class Renderer
    include ApplicationHelper
    include CustomFieldsHelper

    Request = Struct.new(:params)

    attr_reader :params

    def initialize(user)
      @user = user
      @params = {}
    end

    def render(path, ivars)
      api = Redmine::Views::Builders::Json.new(Request.new(@params), nil)
      ivars.each { |name, value| instance_variable_set(:"@#{name}", value) }
      previous = User.current
      begin
        User.current = @user
        instance_eval(File.read(Rails.root.join(path)), path, 1)
      ensure
        User.current = previous
      end
    end
  end
end
