# frozen_string_literal: true

module DeskpilotWebhooks
  # The Redmine 7 payload: {type, timestamp, data: {issue|time_entry, journal?}}, the object
  # rendered by Redmine's own API template (issues/show.api.rsb, timelog/show.api.rsb) as
  # the given user sees it. The journal carries one field Redmine 7 leaves out:
  # private_notes, so a receiver can tell an internal note from a public one.
  class Payload
    TEMPLATES = { 'issue' => 'app/views/issues/show.api.rsb',
                  'time_entry' => 'app/views/timelog/show.api.rsb' }.freeze

    def initialize(object, action, user)
      @object = object
      @action = action
      @user = user
      @type = object.class.model_name.singular
    end

    def to_h
      h = { type: "#{@type}.#{@action}", timestamp: timestamp.iso8601,
            data: { @type.to_sym => Renderer.new(@user).render(TEMPLATES.fetch(@type),
                                                                @type => @object) } }
      journal = @action == 'updated' && @type == 'issue' ? visible_journal : nil
      if journal
        h[:data][:journal] = journal_payload(journal)
        h[:timestamp] = journal.created_on.iso8601
      end
      h
    end

    private

    def timestamp
      case @action
      when 'created' then @object.created_on
      when 'updated' then @object.updated_on
      else Time.now.utc
      end
    end

    def visible_journal
      current = @object.current_journal
      return nil if current.nil? || current.id.nil?

      @object.journals.visible(@user).find_by(id: current.id)
    end

    def journal_payload(journal)
      {
        id: journal.id,
        created_on: journal.created_on.iso8601,
        notes: journal.notes,
        private_notes: journal.private_notes,
        user: { id: journal.user.id, name: journal.user.name },
        details: journal.visible_details(@user).map do |d|
          { property: d.property, prop_key: d.prop_key, old_value: d.old_value, value: d.value }
        end,
      }
    end
  end
end
