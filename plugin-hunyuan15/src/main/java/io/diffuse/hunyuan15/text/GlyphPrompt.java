package io.diffuse.hunyuan15.text;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** diffusers' extract_glyph_texts: the quoted substrings of a prompt in the glyph (ByT5) prompt format. */
public final class GlyphPrompt {
    private static final Pattern QUOTED = Pattern.compile("\"(.*?)\"|\u201c(.*?)\u201d");

    private GlyphPrompt() {
    }

    /**
     * {@code Text "a". Text "b". } for the quoted substrings (ASCII or curly quotes), duplicates removed
     * keeping order when there is more than one; null when the prompt quotes nothing.
     */
    public static String format(String prompt) {
        List<String> found = new ArrayList<>();
        Matcher m = QUOTED.matcher(prompt == null ? "" : prompt);
        while (m.find()) {
            // match[0] or match[1]: an empty first group falls through to the second, as Python's `or` does.
            String a = m.group(1);
            found.add(a != null && !a.isEmpty() ? a : m.group(2) == null ? "" : m.group(2));
        }
        if (found.isEmpty()) {
            return null;
        }
        List<String> texts = found.size() > 1 ? new ArrayList<>(new LinkedHashSet<>(found)) : found;
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < texts.size(); i++) {
            sb.append(i == 0 ? "" : ". ").append("Text \"").append(texts.get(i)).append('"');
        }
        return sb.append(". ").toString();
    }
}
