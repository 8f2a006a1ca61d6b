package ai.bakery.runtime.dashboard;

import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

/**
 * Where the dashboard listens and how it checks callers.
 *
 * @param host address to bind; loopback (the default, {@code 127.0.0.1}) needs no token, any other address
 *     requires {@code Authorization: Bearer <token>} on every request
 * @param port TCP port; 0 picks a free one
 * @param tokenFile file holding the token (first line, trimmed); null to use only the environment variable
 * @param tokenEnv environment variable holding the token when there is no file; null for none
 */
public record DashboardConfig(String host, int port, Path tokenFile, String tokenEnv) {
  public static final String DEFAULT_HOST = "127.0.0.1";
  public static final int DEFAULT_PORT = 8265;
  public static final String DEFAULT_TOKEN_ENV = "BAKERY_DASHBOARD_TOKEN";

  public DashboardConfig {
    host = host == null || host.isBlank() ? DEFAULT_HOST : host;
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("dashboard.port: " + port + " is not a TCP port (0..65535)");
    }
  }

  /** Loopback on the default port, token from {@code BAKERY_DASHBOARD_TOKEN} if ever bound elsewhere. */
  public static DashboardConfig localhost(int port) {
    return new DashboardConfig(DEFAULT_HOST, port, null, DEFAULT_TOKEN_ENV);
  }

  /** Whether {@link #host} is a loopback address (then no token is needed). */
  public boolean loopback() {
    try {
      return InetAddress.getByName(host).isLoopbackAddress();
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException("dashboard.host: cannot resolve '" + host + "'", e);
    }
  }

  /** The token from the file, else from the environment; empty when neither is set. */
  public Optional<String> token(Map<String, String> env) {
    if (tokenFile != null) {
      try {
        String text = Files.readString(tokenFile, StandardCharsets.UTF_8).strip();
        int nl = text.indexOf('\n');
        String token = (nl < 0 ? text : text.substring(0, nl)).strip();
        if (token.isEmpty()) {
          throw new IllegalArgumentException("dashboard.token_file: " + tokenFile + " is empty");
        }
        return Optional.of(token);
      } catch (IOException e) {
        throw new IllegalArgumentException("dashboard.token_file: cannot read " + tokenFile + ": " + e.getMessage(), e);
      }
    }
    if (tokenEnv != null) {
      String v = env.get(tokenEnv);
      if (v != null && !v.isBlank()) {
        return Optional.of(v.strip());
      }
    }
    return Optional.empty();
  }
}
