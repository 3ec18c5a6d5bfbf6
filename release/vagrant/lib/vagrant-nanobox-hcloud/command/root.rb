require "optparse"

require_relative "../config"

module VagrantPlugins
  module HCloud
    module Command
      # Root is `vagrant hcloud types|locations|images`: what can be ordered,
      # from the CPI's catalog (no token needed) and list_images. Inside a
      # project the first machine's provider config is used (token,
      # cpi_path, cpi_config); elsewhere the defaults ($HCLOUD_TOKEN, the
      # CPI on PATH).
      class Root < Vagrant.plugin("2", :command)
        SUBCOMMANDS = %w[types locations images].freeze

        def self.synopsis
          "lists Hetzner Cloud server types, locations and images"
        end

        def execute
          parser = OptionParser.new do |o|
            o.banner = "Usage: vagrant hcloud <#{SUBCOMMANDS.join('|')}>"
          end
          argv = parse_options(parser)
          return 0 if argv.nil?

          sub = argv.first
          unless SUBCOMMANDS.include?(sub)
            @env.ui.info(parser.help)
            return sub.nil? ? 0 : 1
          end
          lines = Table.send(sub, cpi)
          lines.each { |line| @env.ui.info(line, prefix: false) }
          0
        end

        private

        def cpi
          names = @env.root_path ? @env.machine_names : []
          if names.empty?
            config = Config.new.tap(&:finalize!)
            return Cpi.new(config, Dir.pwd)
          end
          machine = @env.machine(names.first, :hcloud)
          Cpi.new(machine.provider_config, machine.env.root_path)
        end
      end

      # Table formats the CPI's answers as aligned text columns.
      module Table
        # types: each orderable server type once, with the locations that
        # offer it and its price (a range where locations differ).
        def self.types(cpi)
          rows = {}
          cpi.call("catalog").each do |region|
            region["plans"].each do |plan|
              next if plan["id"] == "retired"

              plan["specs"].each do |spec|
                row = rows[spec["id"]] ||= { spec: spec, plan: plan["id"], locations: [], hour: [], month: [] }
                row[:locations] << region["id"]
                row[:hour] << spec["dollars_per_hr"]
                row[:month] << spec["dollars_per_mo"]
              end
            end
          end
          header = %w[TYPE PLAN CPU RAM DISK LOCATIONS $/HOUR $/MONTH]
          body = rows.sort.map do |name, r|
            s = r[:spec]
            [name, r[:plan], s["cpu"].to_s, "#{s['ram'] / 1024} GB", "#{s['disk']} GB",
             r[:locations].sort.join(","), range(r[:hour], 4), range(r[:month], 2)]
          end
          align([header] + body)
        end

        def self.locations(cpi)
          body = cpi.call("catalog").map do |region|
            types = region["plans"].reject { |p| p["id"] == "retired" }.sum { |p| p["specs"].length }
            [region["id"], region["name"], types.to_s]
          end
          align([%w[LOCATION NAME TYPES]] + body.sort)
        end

        def self.images(cpi)
          body = cpi.call("list_images").map do |i|
            [i["name"].to_s, i["os_flavor"].to_s, i["os_version"].to_s, i["architecture"].to_s, i["description"].to_s]
          end
          align([%w[IMAGE OS VERSION ARCH DESCRIPTION]] + body.sort)
        end

        def self.range(values, digits)
          low, high = values.compact.minmax
          return "-" if low.nil?

          fmt = "%.#{digits}f"
          low == high ? format(fmt, low) : "#{format(fmt, low)}-#{format(fmt, high)}"
        end

        def self.align(rows)
          widths = rows.transpose.map { |col| col.map(&:length).max }
          rows.map { |row| row.each_with_index.map { |cell, i| cell.ljust(widths[i]) }.join("  ").rstrip }
        end
      end
    end
  end
end
