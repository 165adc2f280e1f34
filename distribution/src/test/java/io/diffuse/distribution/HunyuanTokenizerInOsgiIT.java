package io.diffuse.distribution;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertNotNull;

import java.util.Arrays;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.Bundle;

/**
 * plugin-hunyuan15's prompt tokenizer works inside Felix: the bundle imports DJL's HF tokenizers
 * binding from the system bundle (launcher class path), and the JNI library is found and loaded.
 * The plugin's packages are private, so the class is reached through the bundle's class loader.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class HunyuanTokenizerInOsgiIT extends OsgiTestSupport {
    @Test
    public void byteLevelTokenizerEncodesInsideTheBundle() throws Exception {
        Bundle hunyuan = Arrays.stream(context.getBundles()).filter(b -> "io.diffuse.hunyuan15".equals(b.getSymbolicName()))
                .findFirst().orElse(null);
        assertNotNull("plugin-hunyuan15 installed", hunyuan);
        Class<?> tiny = hunyuan.loadClass("io.diffuse.hunyuan15.text.TinyEncoders");
        try (AutoCloseable tokenizer = (AutoCloseable) tiny.getMethod("tokenizer").invoke(null)) {
            long[] ids = (long[]) tokenizer.getClass().getMethod("ids", String.class).invoke(tokenizer, "hi<|im_end|>");
            assertArrayEquals(new long[] {'h', 'i', 258}, ids);
        }
    }
}
