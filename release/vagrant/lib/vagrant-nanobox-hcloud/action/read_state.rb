require "log4r"

module VagrantPlugins
  module HCloud
    module Action
      # ReadState puts the machine's state into :machine_state_id: the
      # CPI's status, with "active" as :running, and :not_created when the
      # machine has no server (a server gone from Hetzner clears the id).
      class ReadState
        def initialize(app, _env)
          @app = app
          @logger = Log4r::Logger.new("vagrant::hcloud::read_state")
        end

        def call(env)
          env[:machine_state_id] = self.class.state(env[:hcloud_cpi], env[:machine])
          @app.call(env)
        end

        def self.state(cpi, machine)
          server = query(cpi, machine)
          return :not_created if server.nil?

          status = server["status"].to_s
          status == "active" ? :running : status.to_sym
        end

        # query answers the machine's server, or nil when it has none.
        def self.query(cpi, machine)
          return nil if machine.id.nil?

          cpi.call("query_server", machine.id)
        rescue Errors::NotFound
          Log4r::Logger.new("vagrant::hcloud::read_state").info("server #{machine.id} is gone; clearing the id")
          machine.id = nil
          nil
        end
      end
    end
  end
end
