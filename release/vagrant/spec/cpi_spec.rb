describe VagrantPlugins::HCloud::Cpi do
  let(:cpi) { described_class.new(provider_config, fake_dir) }

  it "sends one request per call, with the token only in the credentials" do
    expect(cpi.call("catalog").map { |r| r["id"] }).to eq(%w[nbg1 hel1])
    expect(calls.length).to eq(1)
    call = calls.first
    expect(call["request"]).to eq("method" => "catalog", "arguments" => [],
                                  "context" => { "credentials" => { "api-token" => FAKE_TOKEN } })
    expect(call["argv"]).to eq([])
  end

  it "passes cpi_config as -configPath, relative to the project" do
    c = described_class.new(provider_config(cpi_config: "cpi.json"), "/projects/web")
    c.call("meta")
    expect(calls.first["argv"]).to eq(["-configPath", "/projects/web/cpi.json"])
  end

  it "sends no credentials without a token" do
    c = described_class.new(provider_config(token: nil), fake_dir)
    c.call("meta")
    expect(calls.first["request"]["context"]).to eq({})
  end

  [
    ["Unauthorized", VagrantPlugins::HCloud::Errors::Unauthorized, "rejected the API token"],
    ["NotFound", VagrantPlugins::HCloud::Errors::NotFound, "no server 7"],
    ["NotImplemented", VagrantPlugins::HCloud::Errors::CpiError, "unknown method"],
  ].each do |type, klass, text|
    it "turns a #{type} answer into #{klass.name.split('::').last} with the CPI's message" do
      c = type == "Unauthorized" ? described_class.new(provider_config(token: "wrong"), fake_dir) : cpi
      method, args = { "Unauthorized" => ["query_server", ["7"]], "NotFound" => ["query_server", ["7"]],
                       "NotImplemented" => ["reticulate", []] }.fetch(type)
      expect { c.call(method, *args) }.to raise_error(klass) { |e|
        expect(e.type).to eq(type)
        expect(e.message).to include(text, method)
      }
    end
  end

  it "says so when the CPI answers nothing readable" do
    ENV["FAKE_CPI_MODE"] = "crash"
    expect { cpi.call("meta") }.to raise_error(VagrantPlugins::HCloud::Errors::CpiFailed, /exit status 2.*crashed/)
  end

  it "names the binary it could not find" do
    c = described_class.new(provider_config(cpi_path: "/nonexistent/cpi"), fake_dir)
    expect { c.call("meta") }.to raise_error(VagrantPlugins::HCloud::Errors::CpiNotFound, %r{/nonexistent/cpi})
  end

  it "finds nanobox-hcloud-cpi on PATH without cpi_path" do
    bin = Dir.mktmpdir("bin")
    File.symlink(FAKE_CPI, File.join(bin, "nanobox-hcloud-cpi"))
    path = ENV["PATH"]
    ENV["PATH"] = "#{bin}:#{path}"
    c = described_class.new(provider_config(cpi_path: nil), fake_dir)
    expect(c.binary).to eq(File.join(bin, "nanobox-hcloud-cpi"))
    expect(c.call("meta")["ssh_user"]).to eq("root")
  ensure
    ENV["PATH"] = path
    FileUtils.remove_entry(bin)
  end

  it "never lets the token through in an error or in the log" do
    ENV["FAKE_CPI_MODE"] = "leak"
    logged = StringIO.new
    outputter = Log4r::IOOutputter.new("spec", logged)
    cpi # its logger is the one registered last under that name
    logger = Log4r::Logger["vagrant::hcloud::cpi"]
    logger.outputters = [outputter]
    logger.level = Log4r::DEBUG
    expect { cpi.call("meta") }.to raise_error(VagrantPlugins::HCloud::Errors::CpiError) { |e|
      expect(e.message).to include("upstream said [REDACTED]")
      expect(e.message).not_to include(FAKE_TOKEN)
    }
    expect(logged.string).to include("the token is [REDACTED]")
    expect(logged.string).not_to include(FAKE_TOKEN)
  ensure
    logger.outputters = []
  end
end
