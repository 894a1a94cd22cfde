package sffn.train.data;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import sffn.nn.tokenizer.TokenizerInfo;

/** A model trained on one tokenizer's ids cannot be evaluated or trained on another's. */
public final class TokenizerMatch {
    private TokenizerMatch() {
    }

    /** Fails when both directories record a tokenizer and they differ. */
    public static void require(Path checkpoint, Path data) throws IOException {
        Path a = checkpoint.resolve(TokenizerInfo.FILE_NAME);
        Path b = data.resolve(TokenizerInfo.FILE_NAME);
        if (!Files.isRegularFile(a) || !Files.isRegularFile(b)) return;
        TokenizerInfo ta = TokenizerInfo.read(a);
        TokenizerInfo tb = TokenizerInfo.read(b);
        if (!ta.equals(tb)) {
            throw new IllegalArgumentException("checkpoint " + checkpoint + " was trained on tokenizer '" + ta.name()
                    + "' (vocab " + ta.vocabSize() + "), but the data in " + data + " is tokenized with '" + tb.name()
                    + "' (vocab " + tb.vocabSize() + "); prepare the data with --tokenizer " + ta.name());
        }
    }
}
