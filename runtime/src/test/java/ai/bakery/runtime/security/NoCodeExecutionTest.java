package ai.bakery.runtime.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.data.group.DatasetGroups;
import ai.bakery.data.source.ReadOptions;
import ai.bakery.data.source.messages.MessagesYaml;
import ai.bakery.model.io.ModelDirectory;
import ai.bakery.model.io.SafetensorsReader;
import ai.bakery.runtime.checkpoint.Manifest;
import ai.bakery.runtime.config.JobConfigLoader;
import ai.bakery.runtime.vae.VaeTrainConfig;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Loading a config, a dataset list, a checkpoint manifest or a safetensors header never runs code. Each input
 * carries the classic YAML/JSON deserialisation gadget: a {@code ScriptEngineManager} over a
 * {@code URLClassLoader} that would fetch service files from a local canary server if it were ever
 * instantiated. The canary counts connections; every case must leave it at zero, whatever the loader makes of
 * the input (a clear error or plain data).
 */
class NoCodeExecutionTest {
  private ServerSocket canary;
  private final AtomicInteger hits = new AtomicInteger();
  private Thread acceptor;

  @BeforeEach
  void startCanary() throws IOException {
    canary = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    acceptor = new Thread(() -> {
      while (!canary.isClosed()) {
        try (Socket s = canary.accept()) {
          hits.incrementAndGet();
        } catch (IOException e) {
          return;
        }
      }
    }, "canary");
    acceptor.setDaemon(true);
    acceptor.start();
  }

  @AfterEach
  void stopCanary() throws Exception {
    canary.close();
    acceptor.join(2000);
  }

  private String gadget() {
    return "!!javax.script.ScriptEngineManager [!!java.net.URLClassLoader [[!!java.net.URL [\"http://127.0.0.1:"
        + canary.getLocalPort() + "/\"]]]]";
  }

  /** Proves the canary works: the gadget, built by hand, does reach it. */
  @Test
  void canaryNoticesTheGadgetWhenItRuns() throws Exception {
    try (java.net.URLClassLoader loader = new java.net.URLClassLoader(new java.net.URL[] {
        new java.net.URL("http://127.0.0.1:" + canary.getLocalPort() + "/")})) {
      new javax.script.ScriptEngineManager(loader);
    }
    awaitQuiet();
    assertTrue(hits.get() > 0, "the canary must see a gadget that runs");
  }

  @Test
  void jobConfigsAreData(@TempDir Path dir) throws Exception {
    for (String yaml : List.of(
        "model: " + gadget() + "\n",
        "training: {optimizer: {lr: " + gadget() + "}}\n",
        gadget() + "\n",
        "model_name_or_path: " + gadget() + "\ndataset_config: {dataset_format: yaml}\n")) {
      Path f = dir.resolve("job.yaml");
      Files.writeString(f, yaml);
      assertThrows(RuntimeException.class, () -> JobConfigLoader.load(f, List.of()), yaml);
    }
    Path vae = dir.resolve("vae.yaml");
    Files.writeString(vae, "images: " + gadget() + "\n");
    assertThrows(RuntimeException.class, () -> VaeTrainConfig.load(vae));
    awaitQuiet();
    assertEquals(0, hits.get(), "loading a config ran code");
  }

  @Test
  void datasetListsAreData(@TempDir Path dir) throws Exception {
    Path groups = dir.resolve("groups.yaml");
    Files.writeString(groups, "t2i_pretrain:\n  dataset_names: " + gadget() + "\n");
    assertThrows(Exception.class, () -> DatasetGroups.load(groups));
    Path messages = dir.resolve("messages.yaml");
    Files.writeString(messages, "datasets:\n  - path: " + gadget() + "\n    data_type: json\n");
    assertThrows(Exception.class, () -> MessagesYaml.read(messages, ReadOptions.DEFAULTS));
    awaitQuiet();
    assertEquals(0, hits.get(), "loading a dataset list ran code");
  }

  @Test
  void checkpointMetadataIsData(@TempDir Path dir) throws Exception {
    // Jackson's polymorphic shape ["class", value] in a checkpoint's JSON side file.
    Files.writeString(dir.resolve(Manifest.FILE), "{\"format\": [\"java.net.URL\", \"http://127.0.0.1:"
        + canary.getLocalPort() + "/\"], \"step\": [\"javax.script.ScriptEngineManager\", {}]}");
    assertThrows(IOException.class, () -> Manifest.read(dir));

    // The same shapes inside a safetensors header's metadata stay strings.
    String header = "{\"__metadata__\": {\"format\": \"pt\", \"x\": \"[\\\"java.net.URL\\\", \\\"http://127.0.0.1:"
        + canary.getLocalPort() + "/\\\"]\"}, \"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}";
    byte[] h = header.getBytes(StandardCharsets.UTF_8);
    ByteBuffer file = ByteBuffer.allocate(8 + h.length + 4).order(ByteOrder.LITTLE_ENDIAN);
    file.putLong(h.length).put(h).putFloat(1.5f);
    Path st = dir.resolve("model.safetensors");
    Files.write(st, file.array());
    try (SafetensorsReader r = SafetensorsReader.open(st)) {
      assertTrue(r.metadata().get("x").startsWith("[\"java.net.URL\""), r.metadata().toString());
    }
    awaitQuiet();
    assertEquals(0, hits.get(), "reading checkpoint metadata ran code");
  }

  @Test
  void pickleCheckpointsAreRefusedUnread(@TempDir Path dir) throws Exception {
    // A model folder with only a PyTorch pickle: never unpickled, the error says to convert it.
    Files.copy(Path.of("../configs/model/tiny/config.json"), dir.resolve("config.json"));
    byte[] pickle = {(byte) 0x80, 0x02, 'c', 'o', 's', '\n', 's', 'y', 's', 't', 'e', 'm', '\n', '.'};
    Files.write(dir.resolve("pytorch_model.bin"), pickle);
    Exception e = assertThrows(Exception.class, () -> ModelDirectory.of(dir).openWeights(false));
    assertTrue(e.getMessage().contains("safetensors"), e.getMessage());
  }

  /** No main source turns on what would let data name classes: Jackson default typing, Java serialisation. */
  @Test
  void noLoaderCanInstantiateClassesNamedByData() throws IOException {
    List<String> banned = List.of("activateDefaultTyping", "enableDefaultTyping", "JsonTypeInfo.Id.CLASS",
        "ObjectInputStream", "ScriptEngineManager", "new Yaml(");
    List<Path> sources;
    try (var files = Files.walk(Path.of(".."), 12)) {
      sources = files.filter(f -> f.toString().endsWith(".java") && f.toString().contains("/src/main/java/"))
          .toList();
    }
    assertTrue(sources.size() > 100, "main sources not found from " + Path.of("..").toAbsolutePath());
    for (Path f : sources) {
      String text = Files.readString(f);
      for (String b : banned) {
        assertTrue(!text.contains(b), f + " uses " + b);
      }
    }
  }

  /** Lets any connection a gadget started arrive before counting. */
  private static void awaitQuiet() throws InterruptedException {
    Thread.sleep(200);
  }
}
