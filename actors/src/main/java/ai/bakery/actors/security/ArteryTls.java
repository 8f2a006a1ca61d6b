package ai.bakery.actors.security;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Pekko Artery over mutually authenticated TLS, from a directory made by {@link ClusterCerts}: a node
 * presents its CA-signed certificate and accepts only peers whose certificates the job's CA signed, so a
 * node without such a certificate cannot join. Passwords are read from the password files at start-up.
 */
public final class ArteryTls {
  private ArteryTls() {}

  public static Config forNode(Path certDir, String node) {
    Path store = certDir.resolve(node + ".p12");
    Path trust = certDir.resolve("truststore.p12");
    if (!Files.isRegularFile(store)) {
      throw new IllegalArgumentException("no key store for node '" + node + "' in " + certDir
          + " (make one with: bakery cluster certs " + certDir + " --node " + node + ")");
    }
    if (!Files.isRegularFile(trust)) {
      throw new IllegalArgumentException("no truststore.p12 in " + certDir);
    }
    String nodePass = read(certDir.resolve(node + ".password"));
    String trustPass = read(certDir.resolve("truststore.password"));
    String base = "pekko.remote.artery.ssl.config-ssl-engine";
    return ConfigFactory.empty()
        .withValue("pekko.remote.artery.transport", ConfigValueFactory.fromAnyRef("tls-tcp"))
        .withValue(base + ".key-store", ConfigValueFactory.fromAnyRef(store.toAbsolutePath().toString()))
        .withValue(base + ".key-store-password", ConfigValueFactory.fromAnyRef(nodePass))
        .withValue(base + ".key-password", ConfigValueFactory.fromAnyRef(nodePass))
        .withValue(base + ".trust-store", ConfigValueFactory.fromAnyRef(trust.toAbsolutePath().toString()))
        .withValue(base + ".trust-store-password", ConfigValueFactory.fromAnyRef(trustPass))
        .withValue(base + ".require-mutual-authentication", ConfigValueFactory.fromAnyRef(true))
        // Identity is the CA signature, not the host name: nodes on preemptible machines change addresses.
        .withValue(base + ".hostname-verification", ConfigValueFactory.fromAnyRef(false));
  }

  private static String read(Path file) {
    try {
      return Files.readString(file, StandardCharsets.UTF_8).strip();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file.getFileName() + " in " + file.getParent(), e);
    }
  }
}
