module VagrantPlugins
  module HCloud
    module Action
      # ReadSSHInfo puts the SSH info into :machine_ssh_info: the server's
      # public IPv4 and the CPI's ssh_user, or nil while it does not run.
      # config.ssh.host, port and username override them, as for any
      # provider; the private key is config.ssh.private_key_path's.
      class ReadSSHInfo
        def initialize(app, _env)
          @app = app
        end

        def call(env)
          env[:machine_ssh_info] = self.class.ssh_info(env[:hcloud_cpi], env[:machine])
          @app.call(env)
        end

        def self.ssh_info(cpi, machine)
          server = ReadState.query(cpi, machine)
          return nil if server.nil? || server["status"] != "active"

          host = server["external_ip"].to_s
          { host: host.empty? ? nil : host, port: 22, username: cpi.meta["ssh_user"] }
        end
      end
    end
  end
end
