require "base64"
require "digest"

module VagrantPlugins
  module HCloud
    # Naming derives the names a machine's objects carry in Hetzner Cloud,
    # and the public key it is ordered with.
    module Naming
      # server_name is the server's name: the project directory's and the
      # machine's names as an RFC 1123 label, and a digest of the project's
      # path and the machine's name, so two projects never share a name and
      # an order repeated after a lost id finds the same server.
      def self.server_name(root_path, machine_name)
        root = root_path.to_s
        digest = Digest::SHA256.hexdigest("#{root}\0#{machine_name}")[0, 8]
        base = "#{File.basename(root)}-#{machine_name}".downcase.gsub(/[^a-z0-9-]+/, "-").squeeze("-")
        base = base[0, 50].gsub(/\A-+|-+\z/, "")
        base = "vagrant" if base.empty?
        "#{base}-#{digest}"
      end

      # public_key answers [name, "type base64"]: the public key of the
      # first config.ssh.private_key_path (PATH.pub beside it, else derived
      # from the private key), or, without one, Vagrant's insecure key,
      # which Vagrant replaces on the first boot as with any box
      # (config.ssh.insert_key). The name is ssh_key_name, else
      # "vagrant-" and a digest of the key.
      def self.public_key(machine)
        paths = Array(machine.config.ssh.private_key_path)
        line =
          if paths.empty?
            File.read(Vagrant.source_root.join("keys", "vagrant.pub"))
          else
            read_public_key(File.expand_path(paths.first, machine.env.root_path))
          end
        key = line.split[0, 2].join(" ")
        name = machine.provider_config.ssh_key_name || "vagrant-#{Digest::SHA256.hexdigest(key)[0, 12]}"
        [name, key]
      end

      def self.read_public_key(path)
        pub = "#{path}.pub"
        return File.read(pub) if File.file?(pub)

        require "net/ssh"
        key = Net::SSH::KeyFactory.load_private_key(path, nil, false)
        "#{key.ssh_type} #{Base64.strict_encode64(key.to_blob)}"
      rescue StandardError, ScriptError => e
        raise Errors::PublicKeyUnreadable, path: path, reason: e.message
      end
    end
  end
end
