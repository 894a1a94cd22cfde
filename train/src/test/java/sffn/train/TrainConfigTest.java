package sffn.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sffn.nn.config.ConfigException;

class TrainConfigTest {
    @TempDir
    Path dir;

    String error(String json) throws IOException {
        Path p = dir.resolve("train.json");
        Files.writeString(p, json);
        String m = assertThrows(ConfigException.class, () -> TrainConfig.read(p)).getMessage();
        assertTrue(m.startsWith(p.toString()), m);
        return m;
    }

    @Test
    void badTrainingConfigsNameTheFileAndField() throws IOException {
        assertTrue(error("{\"lr\": -1}").contains("field 'lr' must be a positive finite number, got -1.0"));
        assertTrue(error("{\"steps\": 10, \"tokens\": 1000}").contains("'tokens' and 'steps' are both given"));
        assertTrue(error("{\"batchsize\": 4}").contains("unknown field 'batchsize'"));
        assertTrue(error("{\"warmup_ratio\": 1.5}").contains("'warmup_ratio' must be in [0, 1)"));
        assertTrue(error("{\"self_guided\": {\"mode\": \"fixedflops\"}}").contains("(self_guided): field 'mode' must be one of fixedstep|fixedflop"));
        assertTrue(error("{\"self_guided\": {\"max_step_ratio\": 0}}").contains("'max_step_ratio' must be in (0, 1]"));
    }

    @Test
    void tokensBecomeStepsAndTheJsonRoundTrips() throws IOException {
        Path p = dir.resolve("t.json");
        Files.writeString(p, "{\"batch_size\": 4, \"seq_len\": 32, \"grad_accum\": 2, \"tokens\": 2560,"
                + " \"self_guided\": {\"max_step_ratio\": 0.25, \"mode\": \"fixedflop\", \"reduce_flop\": true}}");
        TrainConfig c = TrainConfig.read(p);
        assertEquals(10, c.steps());
        assertTrue(c.selfGuided().enabled());
        Files.writeString(p, c.toJson().toString());
        assertEquals(c, TrainConfig.read(p));
    }
}
