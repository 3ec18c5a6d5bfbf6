require "log4r"

module VagrantPlugins
  module HCloud
    module Action
      # WaitForState waits until the machine's state is the given one,
      # reading it at once and then every interval seconds, for at most
      # config.vm.boot_timeout seconds (an interrupt stops the wait).
      class WaitForState
        def initialize(app, _env, state, interval: 1)
          @app = app
          @state = state
          @interval = interval
          @logger = Log4r::Logger.new("vagrant::hcloud::wait_for_state")
        end

        def call(env)
          machine = env[:machine]
          env[:ui].info(I18n.t("vagrant_hcloud.waiting_for_state", state: @state))
          deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + machine.config.vm.boot_timeout
          loop do
            current = machine.state.id
            break if current == @state
            return if env[:interrupted]
            raise Errors::ServerGone, state: @state if current == :not_created

            if Process.clock_gettime(Process::CLOCK_MONOTONIC) >= deadline
              raise Errors::StateTimeout, state: @state, current: current, timeout: machine.config.vm.boot_timeout
            end

            @logger.debug("state #{current}, waiting for #{@state}")
            sleep @interval
          end
          @app.call(env)
        end
      end
    end
  end
end
