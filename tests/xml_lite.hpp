// A small strict XML reader for the chart and HTML tests: checks well-formedness (one root, every tag
// closed in order, quoted and unique attributes, known entities, nothing but comments after the root) and
// returns an element tree to query. Enough for the SVG and the XHTML-style HTML the library writes; not a
// general XML parser (no CDATA, no DTD internals, no namespaces beyond their attribute text).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace xml_lite {

struct Element {
  std::string name;
  std::vector<std::pair<std::string, std::string>> attrs;
  std::vector<Element> children;
  std::string text;  ///< the element's own character data, entities decoded

  const std::string* attr(std::string_view key) const {
    for (const auto& [k, v] : attrs)
      if (k == key) return &v;
    return nullptr;
  }
  std::string attr_or(std::string_view key, std::string fallback = "") const {
    const std::string* v = attr(key);
    return v ? *v : fallback;
  }
  /// Whether the space-separated class attribute holds `cls`.
  bool has_class(std::string_view cls) const {
    const std::string* c = attr("class");
    if (!c) return false;
    std::size_t i = 0;
    while (i <= c->size()) {
      std::size_t j = c->find(' ', i);
      if (j == std::string::npos) j = c->size();
      if (std::string_view(*c).substr(i, j - i) == cls) return true;
      i = j + 1;
    }
    return false;
  }
  /// Text of this element and all descendants, in document order.
  std::string all_text() const {
    std::string s = text;
    for (const Element& c : children) s += c.all_text();
    return s;
  }
};

struct Document {
  bool ok = false;
  std::string error;  ///< "offset N: problem"
  Element root;
};

namespace detail {

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  Document run() {
    Document d;
    try {
      skip_prolog();
      if (!at('<')) fail("expected the root element");
      d.root = element();
      skip_misc();
      if (i_ != s_.size()) fail("content after the root element");
      d.ok = true;
    } catch (const std::string& e) {
      d.error = e;
    }
    return d;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const { throw "offset " + std::to_string(i_) + ": " + what; }
  bool at(char c) const { return i_ < s_.size() && s_[i_] == c; }
  bool starts(std::string_view p) const { return s_.substr(i_, p.size()) == p; }
  void skip_space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\t' || s_[i_] == '\r')) ++i_;
  }
  void skip_until(std::string_view end) {
    const std::size_t j = s_.find(end, i_);
    if (j == std::string_view::npos) fail("unterminated construct, expected '" + std::string(end) + "'");
    i_ = j + end.size();
  }
  void skip_misc() {
    for (;;) {
      skip_space();
      if (starts("<!--")) skip_until("-->");
      else return;
    }
  }
  void skip_prolog() {
    skip_space();
    if (starts("<?xml")) skip_until("?>");
    skip_misc();
    if (starts("<!DOCTYPE")) skip_until(">");
    skip_misc();
  }
  static bool name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == ':' || c == '.';
  }
  std::string name() {
    const std::size_t b = i_;
    while (i_ < s_.size() && name_char(s_[i_])) ++i_;
    if (i_ == b) fail("expected a name");
    return std::string(s_.substr(b, i_ - b));
  }
  static void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) out += char(cp);
    else if (cp < 0x800) {
      out += char(0xC0 | (cp >> 6));
      out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += char(0xE0 | (cp >> 12));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    } else {
      out += char(0xF0 | (cp >> 18));
      out += char(0x80 | ((cp >> 12) & 0x3F));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    }
  }
  // Decodes one entity at i_ ('&' ... ';').
  void entity(std::string& out) {
    const std::size_t semi = s_.find(';', i_);
    if (semi == std::string_view::npos || semi - i_ > 10) fail("bare '&' (not an entity)");
    const std::string_view e = s_.substr(i_ + 1, semi - i_ - 1);
    if (e == "amp") out += '&';
    else if (e == "lt") out += '<';
    else if (e == "gt") out += '>';
    else if (e == "quot") out += '"';
    else if (e == "apos") out += '\'';
    else if (e.size() > 1 && e[0] == '#') {
      const bool hex = e[1] == 'x';
      const std::string digits(e.substr(hex ? 2 : 1));
      if (digits.empty()) fail("empty character reference");
      append_utf8(out, std::uint32_t(std::stoul(digits, nullptr, hex ? 16 : 10)));
    } else {
      fail("unknown entity '&" + std::string(e) + ";'");
    }
    i_ = semi + 1;
  }
  Element element() {
    ++i_;  // '<'
    Element el;
    el.name = name();
    for (;;) {
      skip_space();
      if (starts("/>")) {
        i_ += 2;
        return el;
      }
      if (at('>')) {
        ++i_;
        break;
      }
      const std::string key = name();
      if (el.attr(key)) fail("duplicate attribute '" + key + "' on <" + el.name + ">");
      skip_space();
      if (!at('=')) fail("attribute '" + key + "' without a value");
      ++i_;
      skip_space();
      if (!at('"') && !at('\'')) fail("unquoted value of attribute '" + key + "'");
      const char q = s_[i_++];
      std::string value;
      while (i_ < s_.size() && s_[i_] != q) {
        if (s_[i_] == '<') fail("'<' in the value of attribute '" + key + "'");
        if (s_[i_] == '&') entity(value);
        else value += s_[i_++];
      }
      if (i_ >= s_.size()) fail("unterminated attribute value");
      ++i_;
      el.attrs.emplace_back(key, std::move(value));
    }
    for (;;) {  // content
      if (i_ >= s_.size()) fail("<" + el.name + "> is never closed");
      if (starts("</")) {
        i_ += 2;
        const std::string closing = name();
        if (closing != el.name) fail("</" + closing + "> closes <" + el.name + ">");
        skip_space();
        if (!at('>')) fail("malformed closing tag");
        ++i_;
        return el;
      }
      if (starts("<!--")) {
        skip_until("-->");
        continue;
      }
      if (at('<')) {
        el.children.push_back(element());
        continue;
      }
      if (at('&')) {
        entity(el.text);
        continue;
      }
      el.text += s_[i_++];
    }
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

}  // namespace detail

inline Document parse(std::string_view text) { return detail::Parser(text).run(); }

/// Every element under (and including) `root` for which `pred` holds, in document order.
inline std::vector<const Element*> find_all(const Element& root, const std::function<bool(const Element&)>& pred) {
  std::vector<const Element*> out;
  std::function<void(const Element&)> walk = [&](const Element& e) {
    if (pred(e)) out.push_back(&e);
    for (const Element& c : e.children) walk(c);
  };
  walk(root);
  return out;
}

inline std::vector<const Element*> with_class(const Element& root, std::string_view cls) {
  return find_all(root, [&](const Element& e) { return e.has_class(cls); });
}

inline std::vector<const Element*> named(const Element& root, std::string_view name) {
  return find_all(root, [&](const Element& e) { return e.name == name; });
}

}  // namespace xml_lite
