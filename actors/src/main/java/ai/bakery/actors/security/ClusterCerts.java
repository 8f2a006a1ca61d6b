package ai.bakery.actors.security;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A job's private certificate authority and one key store per node, made with the JDK's keytool (no extra
 * crypto library): {@code ca.p12} (keep it off the nodes), {@code truststore.p12} (the CA certificate
 * only), and {@code <node>.p12} holding the node's key and its CA-signed certificate. Passwords are random and
 * written to {@code *.password} files readable only by the owner; they never appear on a command line log
 * or in configuration files.
 */
public final class ClusterCerts {
  private final Path dir;

  public ClusterCerts(Path dir) {
    this.dir = dir;
  }

  /** Creates the CA and the trust store (once; an existing CA is kept). */
  public void createAuthority() throws IOException {
    Files.createDirectories(dir);
    if (Files.exists(dir.resolve("ca.p12"))) {
      return;
    }
    String caPass = newPassword("ca");
    keytool("-genkeypair", "-alias", "ca", "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=bakery-job-ca",
        "-ext", "bc:c", "-validity", "3650", "-storetype", "PKCS12", "-keystore", path("ca.p12"), "-storepass:file",
        path("ca.password"));
    keytool("-exportcert", "-rfc", "-alias", "ca", "-keystore", path("ca.p12"), "-storepass:file",
        path("ca.password"), "-file", path("ca.pem"));
    newPassword("truststore");
    keytool("-importcert", "-noprompt", "-alias", "ca", "-file", path("ca.pem"), "-storetype", "PKCS12",
        "-keystore", path("truststore.p12"), "-storepass:file", path("truststore.password"));
    if (caPass.isEmpty()) {
      throw new IllegalStateException("empty CA password");
    }
  }

  /** Issues {@code <node>.p12}: a key pair and a certificate signed by the job's CA. */
  public Path issueNode(String node, List<String> hosts) throws IOException {
    if (!node.matches("[A-Za-z0-9][A-Za-z0-9._-]*")) {
      throw new IllegalArgumentException("node name '" + node + "' must be letters, digits, '.', '_' or '-'");
    }
    newPassword(node);
    String store = path(node + ".p12");
    String pass = path(node + ".password");
    keytool("-genkeypair", "-alias", "node", "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=" + node,
        "-validity", "825", "-storetype", "PKCS12", "-keystore", store, "-storepass:file", pass);
    keytool("-certreq", "-alias", "node", "-keystore", store, "-storepass:file", pass, "-file", path(node + ".csr"));
    List<String> san = new ArrayList<>();
    for (String h : hosts) {
      san.add((h.matches("[0-9.]+|.*:.*") ? "ip:" : "dns:") + h);
    }
    List<String> gen = new ArrayList<>(List.of("-gencert", "-rfc", "-alias", "ca", "-keystore", path("ca.p12"),
        "-storepass:file", path("ca.password"), "-infile", path(node + ".csr"), "-outfile", path(node + ".pem"),
        "-validity", "825"));
    if (!san.isEmpty()) {
      gen.add("-ext");
      gen.add("SAN=" + String.join(",", san));
    }
    keytool(gen.toArray(String[]::new));
    keytool("-importcert", "-noprompt", "-alias", "ca", "-file", path("ca.pem"), "-keystore", store,
        "-storepass:file", pass);
    keytool("-importcert", "-alias", "node", "-file", path(node + ".pem"), "-keystore", store, "-storepass:file",
        pass);
    Files.deleteIfExists(dir.resolve(node + ".csr"));
    return dir.resolve(node + ".p12");
  }

  private String path(String name) {
    return dir.resolve(name).toAbsolutePath().toString();
  }

  private String newPassword(String name) throws IOException {
    byte[] raw = new byte[24];
    new SecureRandom().nextBytes(raw);
    String pw = Base64.getUrlEncoder().withoutPadding().encodeToString(raw);
    Path file = dir.resolve(name + ".password");
    Files.writeString(file, pw, StandardCharsets.UTF_8);
    try {
      Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
    } catch (UnsupportedOperationException e) {
      // not a POSIX file system; the directory's permissions must protect it
    }
    return pw;
  }

  private static void keytool(String... args) throws IOException {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "keytool").toString());
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    try {
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
        // keytool never prints passwords (they come from files), so its output is safe to show
        throw new IOException("keytool " + args[0] + " failed: " + out.strip());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted running keytool", e);
    }
  }
}
