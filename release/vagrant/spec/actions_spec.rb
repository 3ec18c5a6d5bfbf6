require "openssl"

describe "the provider's actions" do
  include VagrantPlugins::HCloud
  let(:root) { Dir.mktmpdir("project") }
  let(:config) { provider_config }
  let(:machine) { FakeMachine.new(config, root: root, private_key_path: key_path) }
  let(:key_path) { write_key(File.join(root, "id_rsa")) }
  let(:ui) { RecordingUI.new }
  let(:cpi) { VagrantPlugins::HCloud::Cpi.new(config, root) }
  let(:env) { { machine: machine, ui: ui, hcloud_cpi: cpi } }
  let(:app) { ->(_env) {} }

  after { FileUtils.remove_entry(root) }

  # write_key writes an RSA private key (PEM) and answers its path.
  def write_key(path)
    File.write(path, OpenSSL::PKey::RSA.new(2048).to_pem)
    path
  end

  def run(klass, *args)
    klass.new(app, env, *args).call(env)
  end

  def up
    run(VagrantPlugins::HCloud::Action::UploadKey)
    run(VagrantPlugins::HCloud::Action::CreateServer)
  end

  describe "UploadKey and CreateServer" do
    it "register the key, then order with meta's defaults and the config's extras" do
      machine.provider_config.labels = { team: "web" }
      machine.provider_config.user_data = "#cloud-config\n"
      up
      key = requests("create_key").first["arguments"].first
      expect(key["key"]).to match(/\Assh-rsa AAAA[0-9A-Za-z+\/=]+\z/)
      expect(key["id"]).to match(/\Avagrant-[0-9a-f]{12}\z/)
      order = requests("order_server").first["arguments"].first
      expect(order).to include("region" => "nbg1", "size" => "cx23", "config" => { "image" => "ubuntu-24.04" },
                               "labels" => { "team" => "web" }, "user_data" => "#cloud-config\n")
      expect(order["ssh_key"]).to eq(fake_state["keys"].keys.first)
      expect(order["name"]).to eq(VagrantPlugins::HCloud::Naming.server_name(root, :default))
      expect(machine.id).to eq(fake_state["servers"].keys.first)
      expect(ui.lines.join("\n")).to include("Creating server", "cx23 in nbg1")
    end

    it "order the configured type, location and image, under ssh_key_name" do
      machine.provider_config.server_type = "cx33"
      machine.provider_config.location = "hel1"
      machine.provider_config.image = "debian-12"
      machine.provider_config.ssh_key_name = "my-laptop"
      up
      expect(requests("create_key").first["arguments"].first["id"]).to eq("my-laptop")
      order = requests("order_server").first["arguments"].first
      expect(order).to include("region" => "hel1", "size" => "cx33", "config" => { "image" => "debian-12" })
      expect(order).not_to have_key("labels")
      expect(order).not_to have_key("user_data")
    end

    it "make one server when run twice (the order is idempotent by name)" do
      up
      first = machine.id
      machine.id = nil
      up
      expect(machine.id).to eq(first)
      expect(fake_state["servers"].length).to eq(1)
    end

    it "use PATH.pub beside the private key when there is one" do
      File.write("#{key_path}.pub", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGb0rGf3 comment\n")
      run(VagrantPlugins::HCloud::Action::UploadKey)
      expect(requests("create_key").first["arguments"].first["key"]).to eq("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGb0rGf3")
    end

    it "use Vagrant's insecure key without a private_key_path" do
      m = FakeMachine.new(config, root: root)
      env[:machine] = m
      run(VagrantPlugins::HCloud::Action::UploadKey)
      insecure = File.read(Vagrant.source_root.join("keys", "vagrant.pub")).split[0, 2].join(" ")
      expect(requests("create_key").first["arguments"].first["key"]).to eq(insecure)
    end

    it "say which key they could not read" do
      File.write(key_path, "not a key")
      expect { run(VagrantPlugins::HCloud::Action::UploadKey) }
        .to raise_error(VagrantPlugins::HCloud::Errors::PublicKeyUnreadable, /#{Regexp.escape(key_path)}\.pub/)
      expect(requests("create_key")).to be_empty
    end

    it "order nothing with a rejected token" do
      machine.provider_config.token = "wrong"
      expect { up }.to raise_error(VagrantPlugins::HCloud::Errors::Unauthorized, /rejected the API token/)
      expect(requests("order_server")).to be_empty
      expect(machine.id).to be_nil
    end

    it "delete the server when a later step is interrupted, but not after a Vagrant error" do
      up
      step = VagrantPlugins::HCloud::Action::CreateServer.new(app, env)
      step.recover(env.merge("vagrant.error" => VagrantPlugins::HCloud::Errors::StateTimeout.new(state: :running, current: :starting, timeout: 1)))
      expect(fake_state["servers"].length).to eq(1)
      step.recover(env.merge("vagrant.error" => Interrupt.new))
      expect(fake_state["servers"]).to be_empty
      expect(machine.id).to be_nil
    end
  end

  describe "ReadState" do
    {
      "active" => :running, "off" => :off, "starting" => :starting, "provisioning" => :provisioning,
    }.each do |status, state|
      it "reads #{status} as #{state}" do
        up
        s = fake_state
        s["servers"][machine.id]["status"] = status
        File.write(File.join(fake_dir, "state.json"), JSON.generate(s))
        run(VagrantPlugins::HCloud::Action::ReadState)
        expect(env[:machine_state_id]).to eq(state)
      end
    end

    it "is not_created without an id, asking nothing" do
      run(VagrantPlugins::HCloud::Action::ReadState)
      expect(env[:machine_state_id]).to eq(:not_created)
      expect(calls).to be_empty
    end

    it "forgets a server that is gone" do
      machine.id = "4711"
      run(VagrantPlugins::HCloud::Action::ReadState)
      expect(env[:machine_state_id]).to eq(:not_created)
      expect(machine.id).to be_nil
    end
  end

  describe "ReadSSHInfo" do
    it "answers the public IP and the CPI's ssh_user once the server runs" do
      up
      run(VagrantPlugins::HCloud::Action::ReadSSHInfo)
      ip = fake_state["servers"][machine.id]["external_ip"]
      expect(env[:machine_ssh_info]).to eq(host: ip, port: 22, username: "root")
    end

    it "answers nil while the server is off" do
      up
      run(VagrantPlugins::HCloud::Action::StopServer)
      run(VagrantPlugins::HCloud::Action::ReadSSHInfo)
      expect(env[:machine_ssh_info]).to be_nil
    end
  end

  describe "StopServer, StartServer, DeleteServer" do
    before { up }

    it "halt gracefully, and with force (halt -f) power off" do
      run(VagrantPlugins::HCloud::Action::StopServer)
      expect(requests("stop_server").last["arguments"]).to eq([machine.id, { "force" => false }])
      env[:force_halt] = true
      run(VagrantPlugins::HCloud::Action::StopServer)
      expect(requests("stop_server").last["arguments"]).to eq([machine.id, { "force" => true }])
      expect(machine.state.id).to eq(:off)
    end

    it "start a halted server" do
      run(VagrantPlugins::HCloud::Action::StopServer)
      run(VagrantPlugins::HCloud::Action::StartServer)
      expect(machine.state.id).to eq(:running)
    end

    it "delete the server and forget its id" do
      id = machine.id
      run(VagrantPlugins::HCloud::Action::DeleteServer)
      expect(requests("cancel_server").last["arguments"]).to eq([id])
      expect(machine.id).to be_nil
      expect(fake_state["servers"]).to be_empty
    end
  end

  describe "WaitForState" do
    before { up }

    it "passes on once the state is reached" do
      reached = false
      VagrantPlugins::HCloud::Action::WaitForState.new(->(_) { reached = true }, env, :running).call(env)
      expect(reached).to be(true)
    end

    it "gives up after boot_timeout, naming the state it saw" do
      m = FakeMachine.new(config, root: root, private_key_path: key_path, boot_timeout: 0)
      m.id = machine.id
      env[:machine] = m
      expect { VagrantPlugins::HCloud::Action::WaitForState.new(app, env, :off, interval: 0).call(env) }
        .to raise_error(VagrantPlugins::HCloud::Errors::StateTimeout, /did not become off.*it is running/)
    end

    it "stops when the server is gone" do
      run(VagrantPlugins::HCloud::Action::DeleteServer)
      machine.id = fake_state["next"].to_s
      expect { VagrantPlugins::HCloud::Action::WaitForState.new(app, env, :running, interval: 0).call(env) }
        .to raise_error(VagrantPlugins::HCloud::Errors::ServerGone)
    end
  end
end

describe VagrantPlugins::HCloud::Naming do
  [
    ["/home/me/web", :default, /\Aweb-default-[0-9a-f]{8}\z/],
    ["/home/me/My_Project!", :"db.primary", /\Amy-project-db-primary-[0-9a-f]{8}\z/],
    ["/", :"___", /\Avagrant-[0-9a-f]{8}\z/],
    ["/x/#{'a' * 80}", :m, /\Aa{50}-[0-9a-f]{8}\z/],
  ].each do |root, name, pattern|
    it "names #{name} of #{root} as an RFC 1123 label" do
      expect(described_class.server_name(root, name)).to match(pattern)
    end
  end

  it "gives two projects of the same name different server names" do
    expect(described_class.server_name("/a/web", :default)).not_to eq(described_class.server_name("/b/web", :default))
  end
end

describe VagrantPlugins::HCloud::Provider do
  it "is registered as :hcloud, box optional and parallel" do
    klass, options = Vagrant.plugin("2").manager.providers[:hcloud]
    expect(klass).to eq(described_class)
    expect(options).to include(box_optional: true, parallel: true)
  end

  it "describes the Hetzner states it has no words for" do
    expect(I18n.t("vagrant_hcloud.states.long_other", state: "migrating")).to include("migrating")
  end
end
