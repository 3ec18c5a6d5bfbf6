require "pathname"

require "vagrant/action/builder"

module VagrantPlugins
  module HCloud
    # Action holds the provider's action stacks, built from Vagrant's
    # built-in middleware and the steps under action/.
    module Action
      include Vagrant::Action::Builtin

      # up: create and boot a new server, start a halted one, or say that a
      # running one runs.
      def self.action_up
        Vagrant::Action::Builder.new.tap do |b|
          b.use ConfigValidate
          b.use ConnectCpi
          b.use Call, IsState, :not_created do |env, b2|
            if env[:result]
              b2.use action_create
              next
            end
            b2.use Call, IsState, :running do |env2, b3|
              if env2[:result]
                b3.use Message, I18n.t("vagrant_hcloud.already_running")
              else
                b3.use action_start
              end
            end
          end
        end
      end

      # create: register the key, order the server, then boot it.
      def self.action_create
        Vagrant::Action::Builder.new.tap do |b|
          b.use Provision
          b.use SyncedFolders
          b.use UploadKey
          b.use CreateServer
          b.use WaitForState, :running
          b.use WaitForCommunicator, [:running]
        end
      end

      # start: power a halted server on and boot it.
      def self.action_start
        Vagrant::Action::Builder.new.tap do |b|
          b.use Provision
          b.use SyncedFolders
          b.use StartServer
          b.use WaitForState, :running
          b.use WaitForCommunicator, [:running]
        end
      end

      # halt: Hetzner's graceful shutdown (a power-off after the CPI's
      # bounded wait); `halt -f` powers off at once.
      def self.action_halt
        created_only do |b|
          b.use StopServer
          b.use WaitForState, :off
        end
      end

      def self.action_reload
        created_only do |b|
          b.use StopServer
          b.use WaitForState, :off
          b.use action_start
        end
      end

      def self.action_destroy
        Vagrant::Action::Builder.new.tap do |b|
          b.use Call, DestroyConfirm do |env, b2|
            unless env[:result]
              b2.use MessageWillNotDestroy
              next
            end
            b2.use(created_only do |b3|
              b3.use ProvisionerCleanup, :before
              b3.use DeleteServer
            end)
          end
        end
      end

      def self.action_provision
        running_only do |b|
          b.use Provision
          b.use SyncedFolders
        end
      end

      def self.action_ssh
        running_only { |b| b.use SSHExec }
      end

      def self.action_ssh_run
        running_only { |b| b.use SSHRun }
      end

      # read_state puts the state into :machine_state_id.
      def self.action_read_state
        Vagrant::Action::Builder.new.tap do |b|
          b.use ConnectCpi
          b.use ReadState
        end
      end

      # read_ssh_info puts the SSH info into :machine_ssh_info.
      def self.action_read_ssh_info
        Vagrant::Action::Builder.new.tap do |b|
          b.use ConnectCpi
          b.use ReadSSHInfo
        end
      end

      # created_only runs the block's stack on a server that exists, and
      # says so otherwise.
      def self.created_only
        Vagrant::Action::Builder.new.tap do |b|
          b.use ConfigValidate
          b.use ConnectCpi
          b.use Call, IsState, :not_created do |env, b2|
            if env[:result]
              b2.use MessageNotCreated
              next
            end
            yield b2
          end
        end
      end

      # running_only runs the block's stack on a running server, and says
      # why not otherwise.
      def self.running_only
        Vagrant::Action::Builder.new.tap do |b|
          b.use ConfigValidate
          b.use ConnectCpi
          b.use Call, IsState, :running do |env, b2|
            if env[:result]
              yield b2
              next
            end
            b2.use Call, IsState, :not_created do |env2, b3|
              b3.use env2[:result] ? MessageNotCreated : MessageNotRunning
            end
          end
        end
      end

      action_root = Pathname.new(File.expand_path("action", __dir__))
      autoload :ConnectCpi, action_root.join("connect_cpi")
      autoload :CreateServer, action_root.join("create_server")
      autoload :DeleteServer, action_root.join("delete_server")
      autoload :MessageNotCreated, action_root.join("messages")
      autoload :MessageNotRunning, action_root.join("messages")
      autoload :MessageWillNotDestroy, action_root.join("messages")
      autoload :ReadSSHInfo, action_root.join("read_ssh_info")
      autoload :ReadState, action_root.join("read_state")
      autoload :StartServer, action_root.join("start_server")
      autoload :StopServer, action_root.join("stop_server")
      autoload :UploadKey, action_root.join("upload_key")
      autoload :WaitForState, action_root.join("wait_for_state")
    end
  end
end
