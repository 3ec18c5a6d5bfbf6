# The unit tests run the plugin's classes inside Debian's vagrant library
# against spec/support/fake-cpi, a stand-in for nanobox-hcloud-cpi that
# speaks the same protocol and records every request.
require "json"
require "ostruct"
require "pathname"
require "tmpdir"

require "vagrant"
require "vagrant-nanobox-hcloud"
require "vagrant-nanobox-hcloud/config"
require "vagrant-nanobox-hcloud/provider"

VagrantPlugins::HCloud::Plugin.setup_i18n

FAKE_CPI = File.expand_path("support/fake-cpi", __dir__)
FAKE_TOKEN = "fake-token-4f1d9a".freeze

# FakeCpiDir is a fake-cpi's directory: its state and its call log.
module FakeCpiDir
  def fake_dir
    @fake_dir ||= Dir.mktmpdir("fake-cpi")
  end

  # calls answers every request the fake CPI got, oldest first.
  def calls
    path = File.join(fake_dir, "calls.jsonl")
    File.file?(path) ? File.readlines(path).map { |l| JSON.parse(l) } : []
  end

  def requests(method)
    calls.map { |c| c["request"] }.select { |r| r["method"] == method }
  end

  def fake_state
    JSON.parse(File.read(File.join(fake_dir, "state.json")))
  end

  def provider_config(**settings)
    VagrantPlugins::HCloud::Config.new.tap do |c|
      c.token = FAKE_TOKEN
      c.cpi_path = FAKE_CPI
      settings.each { |k, v| c.send("#{k}=", v) }
      c.finalize!
    end
  end
end

# FakeMachine has what the provider's actions use of a Vagrant::Machine.
class FakeMachine
  attr_accessor :id
  attr_reader :name, :provider_config, :config, :env

  def initialize(provider_config, root:, name: :default, private_key_path: nil, boot_timeout: 5)
    @name = name
    @provider_config = provider_config
    @config = OpenStruct.new(ssh: OpenStruct.new(private_key_path: private_key_path),
                             vm: OpenStruct.new(boot_timeout: boot_timeout))
    @env = OpenStruct.new(root_path: Pathname.new(root))
  end

  def state
    cpi = VagrantPlugins::HCloud::Cpi.new(provider_config, env.root_path)
    Vagrant::MachineState.new(VagrantPlugins::HCloud::Action::ReadState.state(cpi, self), "", "")
  end
end

# RecordingUI records what an action tells the user.
class RecordingUI
  attr_reader :lines

  def initialize
    @lines = []
  end

  def info(message, *)
    @lines << message
  end
end

RSpec.configure do |config|
  config.include FakeCpiDir
  config.around do |example|
    env = { "FAKE_CPI_DIR" => nil, "FAKE_CPI_TOKEN" => FAKE_TOKEN, "FAKE_CPI_MODE" => nil, "HCLOUD_TOKEN" => nil }
    saved = env.keys.to_h { |k| [k, ENV[k]] }
    env.each { |k, v| ENV[k] = v }
    ENV["FAKE_CPI_DIR"] = fake_dir
    begin
      example.run
    ensure
      saved.each { |k, v| ENV[k] = v }
      FileUtils.remove_entry(@fake_dir) if @fake_dir
    end
  end
end
