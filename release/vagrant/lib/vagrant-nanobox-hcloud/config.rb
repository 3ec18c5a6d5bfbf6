require "vagrant"

module VagrantPlugins
  module HCloud
    # Config is `config.vm.provider :hcloud do |h| ... end`.
    class Config < Vagrant.plugin("2", :config)
      REDACTED = "[REDACTED]".freeze

      # Every setting; all are optional.
      ATTRIBUTES = %i[token server_type location image ssh_key_name user_data labels cpi_path cpi_config].freeze

      # The Hetzner API token (Read & Write). Default: $HCLOUD_TOKEN.
      attr_accessor :token
      # The server type (e.g. "cx23"); default: the CPI's meta default_size.
      attr_accessor :server_type
      # The location (e.g. "nbg1"); default: the CPI's meta default_region.
      attr_accessor :location
      # The image (e.g. "ubuntu-24.04"); default: meta's image setting default.
      attr_accessor :image
      # The name the SSH public key is registered under (create_key).
      attr_accessor :ssh_key_name
      # cloud-init user data, combined with the CPI's own.
      attr_accessor :user_data
      # Extra labels of the server (a Hash of strings).
      attr_accessor :labels
      # The CPI binary; default: nanobox-hcloud-cpi on PATH.
      attr_accessor :cpi_path
      # The CPI's JSON config file (-configPath).
      attr_accessor :cpi_config

      def initialize
        super
        ATTRIBUTES.each { |name| instance_variable_set("@#{name}", UNSET_VALUE) }
      end

      def finalize!
        @token = ENV["HCLOUD_TOKEN"] if @token == UNSET_VALUE
        @labels = {} if @labels == UNSET_VALUE
        (ATTRIBUTES - %i[token labels]).each do |name|
          instance_variable_set("@#{name}", nil) if instance_variable_get("@#{name}") == UNSET_VALUE
        end
      end

      # merge lets a later block add labels to an earlier block's.
      def merge(other)
        super.tap do |result|
          mine = @labels
          theirs = other.instance_variable_get(:@labels)
          result.labels = mine.merge(theirs) if mine.is_a?(Hash) && theirs.is_a?(Hash)
        end
      end

      def validate(_machine)
        errors = _detected_errors
        errors << I18n.t("vagrant_hcloud.config.token_required") unless present?(@token)
        %i[server_type location image ssh_key_name cpi_path cpi_config user_data].each do |name|
          value = instance_variable_get("@#{name}")
          next if value.nil? || present?(value)

          errors << I18n.t("vagrant_hcloud.config.not_a_string", name: name)
        end
        errors.concat(label_errors)
        { to_s => errors }
      end

      def to_s
        "Hetzner Cloud provider"
      end

      # inspect and the hash behind to_json never show the token: Vagrant
      # prints configs in its debug log.
      def inspect
        fields = ATTRIBUTES.map { |name| "#{name}=#{shown(name).inspect}" }
        "#<#{self.class.name} #{fields.join(', ')}>"
      end

      def instance_variables_hash
        super.tap { |h| h["token"] = REDACTED if present?(h["token"]) }
      end

      private

      def shown(name)
        value = instance_variable_get("@#{name}")
        name == :token && present?(value) ? REDACTED : value
      end

      def present?(value)
        value.is_a?(String) && !value.strip.empty?
      end

      def label_errors
        return [] if @labels.nil?
        return [I18n.t("vagrant_hcloud.config.labels_not_a_hash")] unless @labels.is_a?(Hash)

        @labels.each_with_object([]) do |(key, value), errors|
          next if (key.is_a?(String) || key.is_a?(Symbol)) && !key.to_s.empty? && value.is_a?(String)

          errors << I18n.t("vagrant_hcloud.config.bad_label", key: key.to_s)
        end
      end
    end
  end
end
