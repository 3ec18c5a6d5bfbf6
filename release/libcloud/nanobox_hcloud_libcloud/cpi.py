"""Running the CPI binary: one JSON request on stdin, one JSON response on
stdout (docs/protocol.md).

The API token travels only in the request on the CPI's stdin: never in its
arguments or environment, never in a message this module raises (each is
scrubbed of it), never in a log line.
"""

import json
import logging
import os
import shutil
import subprocess

from libcloud.common.types import InvalidCredsError, LibcloudError

__all__ = ["CPI", "CPIError", "CPI_NAME"]

CPI_NAME = "nanobox-hcloud-cpi"

LOG = logging.getLogger(__name__)

REDACTED = "<redacted>"


class CPIError(LibcloudError):
    """An error the CPI answered: its type (e.g. ``Conflict``,
    ``Forbidden``, ``NotFound``), its message and whether the same call may
    succeed later (``ok_to_retry``)."""

    def __init__(self, value, error_type, ok_to_retry=False, driver=None):
        super().__init__(value, driver=driver)
        self.error_type = error_type
        self.ok_to_retry = ok_to_retry


class CPI:
    """Runs one CPI method per process.

    path: the CPI binary; None finds ``nanobox-hcloud-cpi`` on PATH when a
    call runs. timeout: seconds a call may take before the process is
    killed (the CPI bounds its own calls by ``timeouts.call_seconds``).
    config_path: the CPI's config file, passed as ``-configPath``.
    """

    def __init__(self, token, path=None, timeout=300, config_path=None):
        self._token = token
        self.path = path
        self.timeout = timeout
        self.config_path = config_path

    def __repr__(self):
        return "<CPI %s>" % (self.path or CPI_NAME)

    def scrub(self, text):
        """text without the token."""
        if self._token and isinstance(text, str):
            return text.replace(self._token, REDACTED)
        return text

    def binary(self, driver=None):
        if self.path:
            return self.path
        found = shutil.which(CPI_NAME)
        if not found:
            raise LibcloudError("%s is not on PATH; put it there or pass ex_cpi_path" % CPI_NAME, driver=driver)
        return found

    def call(self, method, arguments=(), driver=None):
        """The result of method, or the CPI's error as an exception:
        InvalidCredsError for a token Hetzner rejects (or none), CPIError
        (a LibcloudError) for every other error."""
        request = {
            "method": method,
            "arguments": list(arguments),
            "context": {"credentials": {"api-token": self._token}},
            "api_version": 2,
        }
        argv = [self.binary(driver)]
        if self.config_path:
            argv += ["-configPath", self.config_path]
        try:
            proc = subprocess.run(
                argv,
                input=json.dumps(request).encode(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                timeout=self.timeout,
                env=os.environ.copy(),
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise CPIError("%s: the CPI did not answer within %s seconds" % (method, self.timeout), "Timeout", True, driver) from None
        except OSError as e:
            raise LibcloudError("%s: could not run the CPI %s: %s" % (method, argv[0], self.scrub(e.strerror or str(e))), driver=driver) from None
        return self._answer(method, proc, driver)

    def _answer(self, method, proc, driver):
        try:
            response = json.loads(proc.stdout.decode("utf-8"))
            if not isinstance(response, dict):
                raise ValueError("not an object")
        except ValueError:
            raise LibcloudError(
                "%s: the CPI answered no JSON response (exit status %d)" % (method, proc.returncode), driver=driver
            ) from None
        log = response.get("log")
        if log:
            LOG.debug("CPI %s log: %s", method, self.scrub(log))
        err = response.get("error")
        if not err:
            return response.get("result")
        error_type = str(err.get("type", "CloudError"))
        message = self.scrub(str(err.get("message", "")))
        if error_type == "Unauthorized":
            raise InvalidCredsError(message, driver=driver)
        raise CPIError(message, error_type, bool(err.get("ok_to_retry")), driver)
