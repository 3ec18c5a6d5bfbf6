describe VagrantPlugins::HCloud::Config do
  let(:config) { described_class.new }
  let(:machine) { double("machine") }

  def errors(c)
    c.validate(machine).fetch("Hetzner Cloud provider")
  end

  describe "defaults" do
    it "takes the token from HCLOUD_TOKEN and leaves the rest to the CPI" do
      ENV["HCLOUD_TOKEN"] = "from-env"
      config.finalize!
      expect(config.token).to eq("from-env")
      %i[server_type location image ssh_key_name user_data cpi_path cpi_config].each do |name|
        expect(config.send(name)).to be_nil, "#{name} defaults to nil"
      end
      expect(config.labels).to eq({})
    end

    it "has no token without HCLOUD_TOKEN, and says how to set one" do
      config.finalize!
      expect(config.token).to be_nil
      expect(errors(config)).to include(a_string_including("token is not set", "HCLOUD_TOKEN"))
    end
  end

  describe "overriding defaults" do
    {
      token: "t", server_type: "cx33", location: "hel1", image: "debian-12", ssh_key_name: "me",
      user_data: "#cloud-config\n", cpi_path: "/opt/cpi", cpi_config: "cpi.json", labels: { "team" => "web" },
    }.each do |name, value|
      it "keeps #{name}" do
        config.send("#{name}=", value)
        config.finalize!
        expect(config.send(name)).to eq(value)
      end
    end
  end

  describe "validation" do
    [
      [{ token: "" }, "token is not set"],
      [{ token: "  " }, "token is not set"],
      [{ server_type: 23 }, "server_type must be a non-empty string"],
      [{ location: "" }, "location must be a non-empty string"],
      [{ image: :ubuntu }, "image must be a non-empty string"],
      [{ user_data: ["x"] }, "user_data must be a non-empty string"],
      [{ labels: "team=web" }, "labels must be a Hash"],
      [{ labels: { "team" => 1 } }, "label 'team' must have"],
      [{ labels: { "" => "x" } }, "label '' must have"],
    ].each do |settings, message|
      it "refuses #{settings.inspect}" do
        config.token = "t"
        settings.each { |k, v| config.send("#{k}=", v) }
        config.finalize!
        expect(errors(config)).to include(a_string_including(message))
      end
    end

    it "accepts a complete config" do
      config.token = "t"
      config.labels = { team: "web" }
      config.finalize!
      expect(errors(config)).to eq([])
    end

    it "lists an unknown setting the way Vagrant does" do
      config.token = "t"
      config.sever_type = "cx23"
      config.finalize!
      expect(errors(config).join).to include("sever_type")
    end
  end

  describe "the token is never shown" do
    before do
      config.token = "very-secret-token"
      config.finalize!
    end

    it "in inspect, to_s or to_json" do
      [config.inspect, config.to_s, config.to_json, config.instance_variables_hash.to_s].each do |text|
        expect(text).not_to include("very-secret-token")
      end
      expect(config.inspect).to include("token=\"[REDACTED]\"")
    end

    it "while the token itself stays usable" do
      expect(config.token).to eq("very-secret-token")
    end
  end

  describe "merging" do
    it "adds the labels of a later block to an earlier one's" do
      first = described_class.new.tap { |c| c.labels = { "a" => "1" }; c.server_type = "cx23" }
      second = described_class.new.tap { |c| c.labels = { "b" => "2" } }
      merged = first.merge(second)
      merged.finalize!
      expect(merged.labels).to eq("a" => "1", "b" => "2")
      expect(merged.server_type).to eq("cx23")
    end
  end
end
