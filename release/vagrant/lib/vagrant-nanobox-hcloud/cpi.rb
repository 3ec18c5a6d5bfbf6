require "json"
require "open3"
require "log4r"
require "vagrant/util/which"

module VagrantPlugins
  module HCloud
    # Cpi runs the nanobox-hcloud-cpi binary once per call: one JSON request
    # on its stdin, one JSON response on its stdout. The token travels only
    # in the request's credentials, never on a command line or in the
    # environment, and is scrubbed from everything logged or raised.
    class Cpi
      BINARY = "nanobox-hcloud-cpi".freeze
      REDACTED = "[REDACTED]".freeze

      @meta = {}
      @meta_lock = Mutex.new

      class << self
        # meta answers the CPI's meta object, asked once per binary, config
        # file and process (it costs no API call and does not change while
        # we run).
        def meta(cpi)
          @meta_lock.synchronize { @meta[cpi.command_line] ||= cpi.call("meta") }
        end
      end

      # config is the machine's provider config; root_path the directory
      # relative paths in it (cpi_path, cpi_config) are relative to.
      def initialize(config, root_path = nil)
        @config = config
        @root_path = root_path
        @logger = Log4r::Logger.new("vagrant::hcloud::cpi")
      end

      # binary is the CPI's path: cpi_path, else nanobox-hcloud-cpi on PATH.
      def binary
        @binary ||= begin
          path = @config.cpi_path ? File.expand_path(@config.cpi_path, @root_path) : Vagrant::Util::Which.which(BINARY)
          raise Errors::CpiNotFound, name: BINARY, path: @config.cpi_path.to_s if path.nil? || !File.executable?(path)

          path
        end
      end

      def meta
        self.class.meta(self)
      end

      # command_line is the CPI's argv (the binary and its config file).
      def command_line
        args = [binary]
        args += ["-configPath", File.expand_path(@config.cpi_config, @root_path)] if @config.cpi_config
        args
      end

      # call runs method with arguments and answers the result; an error
      # answer raises the matching Errors::CpiError.
      def call(method, *arguments)
        request = { "method" => method, "arguments" => arguments, "context" => context }
        @logger.debug("#{method}: running #{binary} (#{arguments.length} arguments)")
        out, err, status = run(method, JSON.generate(request))
        err = scrub(err)
        @logger.debug("#{method}: CPI stderr: #{err}") unless err.strip.empty?
        response = parse(method, scrub(out), status, err)
        log = response["log"].to_s
        @logger.debug("#{method}: CPI log: #{log}") unless log.strip.empty?
        raise Errors::CpiError.for(method, response["error"]) if response["error"]

        response["result"]
      end

      private

      def run(method, stdin)
        Open3.capture3(*command_line, stdin_data: stdin)
      rescue SystemCallError, IOError => e
        raise Errors::CpiFailed, method: method, reason: scrub(e.message)
      end

      def context
        token = @config.token
        return {} if !token.is_a?(String) || token.empty?

        { "credentials" => { "api-token" => token } }
      end

      # parse reads the response: the last non-empty line of stdout.
      def parse(method, out, status, err)
        line = out.lines.map(&:strip).reject(&:empty?).last
        reason = "exit status #{status.exitstatus.inspect}, no response on stdout"
        if line
          begin
            response = JSON.parse(line)
            return response if response.is_a?(Hash) && (response.key?("result") || response.key?("error"))
          rescue JSON::ParserError
            nil
          end
          reason = "exit status #{status.exitstatus.inspect}, unreadable response"
        end
        detail = err.strip.lines.last.to_s.strip
        reason += ": #{detail}" unless detail.empty?
        raise Errors::CpiFailed, method: method, reason: reason
      end

      def scrub(text)
        token = @config.token
        text = text.to_s
        return text if !token.is_a?(String) || token.empty?

        text.gsub(token, REDACTED)
      end
    end
  end
end
