require "vagrant"

module VagrantPlugins
  module HCloud
    # Errors are the plugin's Vagrant errors; their text is in
    # locales/en.yml under vagrant_hcloud.errors.
    module Errors
      class HCloudError < Vagrant::Errors::VagrantError
        error_namespace("vagrant_hcloud.errors")
      end

      # The CPI binary is neither at cpi_path nor on PATH.
      class CpiNotFound < HCloudError
        error_key(:cpi_not_found)
      end

      # The CPI could not be run, or wrote no readable response.
      class CpiFailed < HCloudError
        error_key(:cpi_failed)
      end

      # CpiError is an error the CPI answered: extra_data holds the method,
      # the protocol's error type and the CPI's message.
      class CpiError < HCloudError
        error_key(:cpi_error)

        # for builds the error of the CPI's error object (type, message).
        def self.for(method, error)
          type = error["type"].to_s
          klass = BY_TYPE.fetch(type, CpiError)
          klass.new(method: method, type: type, message: error["message"].to_s)
        end

        def type
          extra_data[:type]
        end
      end

      # The token is missing, or Hetzner rejected it.
      class Unauthorized < CpiError
        error_key(:unauthorized)
      end

      # No such server or key (or one the adapter may not see).
      class NotFound < CpiError
        error_key(:not_found)
      end

      # The token may read but not write, or the object is not ours.
      class Forbidden < CpiError
        error_key(:forbidden)
      end

      CpiError::BY_TYPE = {
        "Unauthorized" => Unauthorized,
        "NotFound" => NotFound,
        "Forbidden" => Forbidden,
      }.freeze

      # The public key of config.ssh.private_key_path could not be read.
      class PublicKeyUnreadable < HCloudError
        error_key(:public_key_unreadable)
      end

      # A server did not reach a state within the machine's boot_timeout.
      class StateTimeout < HCloudError
        error_key(:state_timeout)
      end

      # The server vanished while we waited for it.
      class ServerGone < HCloudError
        error_key(:server_gone)
      end
    end
  end
end
