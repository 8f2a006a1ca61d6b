package ai.bakery.runtime.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.model.config.ConfigException;
import ai.bakery.runtime.checkpoint.CheckpointConfig;
import ai.bakery.runtime.optim.OptimizerConfig;
import ai.bakery.runtime.optim.ScheduleConfig;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class ConfigRecordsTest {
  private final ObjectMapper json = new ObjectMapper();

  @Test
  void emptyObjectsBindToTheReferenceDefaults() throws Exception {
    assertEquals(OptimizerConfig.DEFAULTS, json.readValue("{}", OptimizerConfig.class));
    assertEquals(ScheduleConfig.DEFAULTS, json.readValue("{}", ScheduleConfig.class));
    assertEquals(EmaConfig.DEFAULTS, json.readValue("{}", EmaConfig.class));
    assertEquals(CheckpointConfig.DEFAULTS, json.readValue("{}", CheckpointConfig.class));
    assertEquals(TrainLoopConfig.DEFAULTS, json.readValue("{}", TrainLoopConfig.class));
    assertEquals(1e-15, OptimizerConfig.DEFAULTS.eps());
    assertEquals(0.95, OptimizerConfig.DEFAULTS.beta2());
    assertEquals(2000, ScheduleConfig.DEFAULTS.warmupSteps());
    assertEquals(4396, TrainLoopConfig.DEFAULTS.globalSeed());
    assertTrue(TrainLoopConfig.DEFAULTS.freezeVae());
  }

  @Test
  void snakeCaseFieldsAndAliasesBind() throws Exception {
    OptimizerConfig o = json.readValue("{\"lr\": 2e-5, \"max_grad_norm\": 0.5}", OptimizerConfig.class);
    assertEquals(2e-5, o.lr());
    assertEquals(0.5, o.maxGradNorm());
    CheckpointConfig c = json.readValue(
        "{\"checkpoint_dir\": \"ck\", \"save_steps\": 50, \"resume_from\": \"m\", \"finetune_from_hf\": true}",
        CheckpointConfig.class);
    assertEquals(Path.of("ck"), c.checkpointDir());
    assertEquals(50, c.saveEvery());
    assertTrue(c.finetuneFromHf());
    assertFalse(c.autoResume());
    TrainLoopConfig t = json.readValue("{\"seed\": 7, \"ce_loss_weight\": 0.25, \"visual_und\": false}",
        TrainLoopConfig.class);
    assertEquals(7, t.globalSeed());
    assertEquals(0.25, t.ceWeight());
    assertFalse(t.visualUnd());
    assertEquals(0.9999, json.readValue("{\"ema\": 0.9999}", EmaConfig.class).ema());
  }

  @Test
  void badValuesNameTheField() {
    assertMessage("lr_scheduler", () -> json.readValue("{\"lr_scheduler\": \"linear\"}", ScheduleConfig.class));
    assertMessage("beta2", () -> json.readValue("{\"beta2\": 1.0}", OptimizerConfig.class));
    assertMessage("save_every", () -> json.readValue("{\"save_every\": 0}", CheckpointConfig.class));
    assertMessage("keep_last", () -> json.readValue("{\"keep_last\": -1}", CheckpointConfig.class));
    assertMessage("gradient_accumulation_steps",
        () -> json.readValue("{\"gradient_accumulation_steps\": 0}", TrainLoopConfig.class));
    assertMessage("ema", () -> json.readValue("{\"ema\": 1.5}", EmaConfig.class));
  }

  private static void assertMessage(String field, org.junit.jupiter.api.function.Executable e) {
    ValueInstantiationException ex = assertThrows(ValueInstantiationException.class, e);
    assertTrue(ex.getCause() instanceof ConfigException, ex.toString());
    assertTrue(ex.getCause().getMessage().contains(field), ex.getCause().getMessage());
  }
}
