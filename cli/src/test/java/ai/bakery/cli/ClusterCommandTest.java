package ai.bakery.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ClusterCommandTest {
  @Test
  void certsMakesACaAndNodeKeyStoresAndRejectsBadNodeNames(@TempDir Path dir) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    Cli cli = new Cli(new PrintStream(out, true), new PrintStream(err, true));
    int rc = Main.run(List.of("cluster", "certs", dir.toString(), "--node", "n1"), cli);
    assertEquals(0, rc, err.toString());
    assertTrue(Files.isRegularFile(dir.resolve("ca.p12")));
    assertTrue(Files.isRegularFile(dir.resolve("truststore.p12")));
    assertTrue(Files.isRegularFile(dir.resolve("n1.p12")));
    assertTrue(out.toString().contains("n1.p12"));
    int bad = Main.run(List.of("cluster", "certs", dir.toString(), "--node", "../evil"), cli);
    assertEquals(2, bad);
    assertTrue(err.toString().contains("node name"), err.toString());
  }
}
