package io.bulwark.gateway;

/** Just enough JSON writing for problems and the admin API (the gateway has no JSON library). */
final class Json {
  private Json() {}

  static StringBuilder string(StringBuilder out, String s) {
    if (s == null) return out.append("null");
    out.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        default -> {
          if (c < 0x20) out.append(String.format("\\u%04x", (int) c));
          else out.append(c);
        }
      }
    }
    return out.append('"');
  }

  static StringBuilder field(StringBuilder out, String name, String value) {
    return string(string(out, name).append(':'), value);
  }

  static StringBuilder field(StringBuilder out, String name, long value) {
    return string(out, name).append(':').append(value);
  }

  static StringBuilder field(StringBuilder out, String name, boolean value) {
    return string(out, name).append(':').append(value);
  }
}
