module VagrantPlugins
  module HCloud
    VERSION = "0.1.0".freeze
  end
end
