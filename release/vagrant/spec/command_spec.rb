require "vagrant-nanobox-hcloud/command/root"

describe VagrantPlugins::HCloud::Command::Table do
  let(:cpi) { VagrantPlugins::HCloud::Cpi.new(provider_config, fake_dir) }

  it "lists each orderable type once, with its locations and price range" do
    lines = described_class.types(cpi)
    expect(lines.first.split).to eq(%w[TYPE PLAN CPU RAM DISK LOCATIONS $/HOUR $/MONTH])
    expect(lines[1].split).to eq(%w[cx23 shared 2 4 GB 80 GB hel1,nbg1 0.0095-0.0110 5.93-6.49])
    expect(lines[2].split).to eq(%w[cx33 shared 4 8 GB 160 GB nbg1 0.0147 9.17])
    expect(lines.join).not_to include("cx22")
  end

  it "lists the locations with the number of orderable types" do
    expect(described_class.locations(cpi).map(&:split)).to eq([%w[LOCATION NAME TYPES], %w[hel1 Helsinki 1 1], %w[nbg1 Nuremberg 1 2]])
  end

  it "lists the images with the token" do
    lines = described_class.images(cpi)
    expect(lines.map(&:split)).to eq([%w[IMAGE OS VERSION ARCH DESCRIPTION], %w[debian-12 debian 12 arm Debian 12],
                                      %w[ubuntu-24.04 ubuntu 24.04 x86 Ubuntu 24.04]])
    expect(requests("list_images").first["context"]).to eq("credentials" => { "api-token" => FAKE_TOKEN })
  end
end
