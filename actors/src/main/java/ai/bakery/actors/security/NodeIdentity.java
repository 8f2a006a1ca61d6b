package ai.bakery.actors.security;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.Key;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.util.Base64;

/**
 * A node's key and certificate chain from its {@link ClusterCerts} key store, as the PEM streams gRPC (Arrow
 * Flight) takes. Kept in memory: the private key is never written out as a file.
 */
public final class NodeIdentity {
  private final byte[] chainPem;
  private final byte[] keyPem;
  private final byte[] caPem;

  private NodeIdentity(byte[] chainPem, byte[] keyPem, byte[] caPem) {
    this.chainPem = chainPem;
    this.keyPem = keyPem;
    this.caPem = caPem;
  }

  public static NodeIdentity load(Path certDir, String node) throws IOException {
    try {
      char[] pass = Files.readString(certDir.resolve(node + ".password"), StandardCharsets.UTF_8).strip().toCharArray();
      KeyStore ks = KeyStore.getInstance("PKCS12");
      try (InputStream in = Files.newInputStream(certDir.resolve(node + ".p12"))) {
        ks.load(in, pass);
      }
      Key key = ks.getKey("node", pass);
      Certificate[] chain = ks.getCertificateChain("node");
      if (key == null || chain == null) {
        throw new IOException(node + ".p12 has no 'node' key entry");
      }
      StringBuilder c = new StringBuilder();
      for (Certificate cert : chain) {
        c.append(pem("CERTIFICATE", cert.getEncoded()));
      }
      byte[] ca = Files.readAllBytes(certDir.resolve("ca.pem"));
      return new NodeIdentity(c.toString().getBytes(StandardCharsets.US_ASCII),
          pem("PRIVATE KEY", key.getEncoded()).getBytes(StandardCharsets.US_ASCII), ca);
    } catch (GeneralSecurityException e) {
      throw new IOException("cannot read the key store of node " + node + " in " + certDir, e);
    }
  }

  public InputStream certificateChain() {
    return new ByteArrayInputStream(chainPem);
  }

  public InputStream privateKey() {
    return new ByteArrayInputStream(keyPem);
  }

  /** The job CA's certificate: the only issuer a client trusts. */
  public InputStream authority() {
    return new ByteArrayInputStream(caPem);
  }

  private static String pem(String type, byte[] der) {
    return "-----BEGIN " + type + "-----\n" + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der)
        + "\n-----END " + type + "-----\n";
  }
}
