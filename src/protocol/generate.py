#!/usr/bin/env python3
"""Generates the C++ codecs of Kafka's messages from schema/messages.json.

Usage:
  generate.py SCHEMA OUT_DIR --chunks N [--extra RECORDS_SCHEMA ...]
                                                   write every file (if changed)
  generate.py SCHEMA OUT_DIR --chunks N [--extra ...] --list
                                                   print the files it would write

Output, under OUT_DIR:
  protocol/messages/<message>.h   one struct per message (nested structs in
                                  detail::<message>, aliased inside it)
  protocol/messages.h             all of them, type lists, visit_*_type
  protocol/messages_<k>.cc        encode/size/decode, messages split in N groups
  protocol/api_table.cc           the ApiInfo table
  protocol_testing/fill.h         (tests only) random fill of every struct
  protocol_testing/fill_<k>.cc

Each --extra schema (metadata_records.json, coordinator_records.json) names
a namespace NS; its structs go in sluice::protocol::NS:
  protocol/NS/<message>.h         one struct per record
  protocol/NS_records.h           all of them, and the type list RecordTypes
  protocol/NS_records.cc          their encode/size/decode

Each struct has one encode, one size and one decode that test the version at
run time (as Kafka's Java generator does), not one function per version. See
src/protocol/README.md for the type mapping and the encoding rules.
"""

import argparse
import json
import pathlib
import re
import sys

MAX_VERSION = 0x7FFF

PRIMITIVES = {
    "bool": "bool", "int8": "int8_t", "int16": "int16_t", "int32": "int32_t",
    "int64": "int64_t", "uint16": "uint16_t", "uint32": "uint32_t", "float64": "double",
    "uuid": "::sluice::Uuid", "string": "std::string", "bytes": "std::vector<uint8_t>",
    "records": "::sluice::protocol::Records",
}
INTEGER_BITS = {"int8": 8, "int16": 16, "int32": 32, "int64": 64, "uint16": 16, "uint32": 32}
NULLABLE_KINDS = {"string", "bytes", "records"}

CPP_KEYWORDS = {
    "alignas", "alignof", "and", "asm", "auto", "bool", "break", "case", "catch", "char",
    "class", "const", "constexpr", "continue", "default", "delete", "do", "double", "else",
    "enum", "explicit", "export", "extern", "false", "float", "for", "friend", "goto", "if",
    "inline", "int", "long", "mutable", "namespace", "new", "noexcept", "not", "nullptr",
    "operator", "or", "private", "protected", "public", "register", "return", "short",
    "signed", "sizeof", "static", "struct", "switch", "template", "this", "throw", "true",
    "try", "typedef", "typeid", "typename", "union", "unsigned", "using", "virtual", "void",
    "volatile", "while", "xor", "concept", "requires", "co_await", "co_return", "co_yield",
}
# Member names that would collide with what every generated struct declares
# (`version` is the parameter of encode/size/decode), and with the constants
# of a top-level message struct.
RESERVED_MEMBERS = {"size", "encode", "decode", "version", "unknown_tagged_fields"}
TOP_LEVEL_RESERVED = {"api_key", "min_version", "max_version", "first_flexible_version",
                      "message_name", "Response"}


def snake_case(name):
    name = name.replace("KRaft", "Kraft")  # one word: kraft_version_record, not k_raft_...
    out = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    out = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", out)
    out = out.lower()
    if out in CPP_KEYWORDS or out in RESERVED_MEMBERS:
        out += "_"
    return out


def parse_versions(text):
    """'0+' -> (0, MAX); '1-3' -> (1, 3); '2' -> (2, 2); 'none' -> None."""
    if text is None or text == "none":
        return None
    text = text.strip()
    if text.endswith("+"):
        return (int(text[:-1]), MAX_VERSION)
    if "-" in text:
        lo, hi = text.split("-")
        return (int(lo), int(hi))
    return (int(text), int(text))


def intersect(a, b):
    if a is None or b is None:
        return None
    lo, hi = max(a[0], b[0]), min(a[1], b[1])
    return (lo, hi) if lo <= hi else None


class Field:
    def __init__(self, spec):
        self.name = spec["name"]
        self.member = snake_case(self.name)
        self.type = spec["type"]
        self.versions = parse_versions(spec["versions"])
        self.nullable = parse_versions(spec.get("nullableVersions"))
        self.tagged = parse_versions(spec.get("taggedVersions"))
        self.tag = spec.get("tag")
        self.default = spec.get("default")
        field_flexible = spec.get("flexibleVersions")
        if field_flexible not in (None, "none"):
            raise SystemExit(f"{self.name}: field flexibleVersions {field_flexible} unsupported")
        self.never_compact = field_flexible == "none"
        self.is_array = self.type.startswith("[]")
        self.element = self.type[2:] if self.is_array else self.type
        self.struct = None  # resolved StructDef for struct and struct-array fields
        self.inline_fields = spec.get("fields")
        if (self.tag is None) != (self.tagged is None):
            raise SystemExit(f"{self.name}: tag and taggedVersions go together")

    @property
    def is_struct(self):
        return self.element not in PRIMITIVES

    def untagged_versions(self):
        """The versions in which the field is a regular (positional) field."""
        if self.versions is None:
            return None
        if self.tagged is None:
            return self.versions
        if self.tagged[1] < self.versions[1]:
            raise SystemExit(f"{self.name}: taggedVersions must be open-ended")
        if self.tagged[0] <= self.versions[0]:
            return None
        return (self.versions[0], self.tagged[0] - 1)

    def tagged_versions(self):
        return intersect(self.versions, self.tagged)

    def is_optional(self):
        if self.element == "records" and not self.is_array:
            return True
        return self.nullable is not None

    def base_type(self):
        element = self.struct.name if self.is_struct else PRIMITIVES[self.element]
        return f"std::vector<{element}>" if self.is_array else element

    def cpp_type(self):
        base = self.base_type()
        return f"std::optional<{base}>" if self.is_optional() else base

    def default_init(self):
        """The brace-initializer contents of the member's default value."""
        value = self.default
        if self.is_optional():
            if value == "null" or (self.element == "records" and not self.is_array):
                return "std::nullopt"
            if self.element == "string" and not self.is_array and value:
                return f"std::in_place, {json.dumps(value)}"
            return "std::in_place"
        if value is None or value == "":
            return ""
        if self.is_array or self.is_struct:
            raise SystemExit(f"{self.name}: unsupported default {value!r}")
        if self.element == "bool":
            return value.lower()
        if self.element == "string":
            return json.dumps(value)
        if self.element == "float64":
            return repr(float(value))
        if self.element in INTEGER_BITS:
            number = int(value, 16) if value.lower().startswith(("0x", "-0x")) else int(value)
            bits = INTEGER_BITS[self.element]
            if self.element.startswith("int") and number == -(1 << (bits - 1)):
                return f"{number + 1} - 1"  # the literal itself would overflow before negation
            return str(number)
        raise SystemExit(f"{self.name}: unsupported default {value!r} for {self.type}")


class StructDef:
    def __init__(self, name, fields, cpp_scope):
        self.name = name
        self.fields = fields
        self.cpp_scope = cpp_scope  # qualified name of the C++ struct

    def struct_fields(self):
        return [f for f in self.fields if f.is_struct]


class Message:
    def __init__(self, spec, namespace=""):
        self.namespace = namespace  # "" for messages.json, else a sub-namespace
        self.name = spec["name"]
        self.kind = spec["type"]  # request, response, header, data
        self.api_key = spec.get("apiKey")
        self.valid = parse_versions(spec["validVersions"])
        flexible = parse_versions(spec.get("flexibleVersions", "none"))
        if flexible is not None and flexible[1] != MAX_VERSION:
            raise SystemExit(f"{self.name}: flexibleVersions must be open-ended")
        self.first_flexible = flexible[0] if flexible else -1
        self.unstable = bool(spec.get("latestVersionUnstable", False))
        self.listeners = spec.get("listeners", [])
        self.snake = snake_case(self.name).rstrip("_")
        self.detail_ns = f"detail::{self.snake}"
        self.registry = {}
        self.common_names = set()
        for common in spec.get("commonStructs", []):
            self.common_names.add(common["name"])
            self.register(common["name"], common["fields"])
        self.top = StructDef(self.name, [self.parse_field(f) for f in spec["fields"]], self.name)
        self.resolve(self.top)
        for struct in list(self.registry.values()):
            self.resolve(struct)
        for field in self.top.fields:
            if field.member in TOP_LEVEL_RESERVED:
                field.member += "_"

    def register(self, name, field_specs):
        if name in self.registry:
            raise SystemExit(f"{self.name}: struct {name} defined twice")
        struct = StructDef(name, None, f"{self.detail_ns}::{name}")
        self.registry[name] = struct
        struct.fields = [self.parse_field(f) for f in field_specs]
        return struct

    def parse_field(self, spec):
        field = Field(spec)
        if field.is_struct and field.inline_fields is not None:
            self.register(field.element, field.inline_fields)
        return field

    def resolve(self, struct):
        for field in struct.fields:
            if field.is_struct:
                if field.element not in self.registry:
                    raise SystemExit(f"{self.name}: unknown struct {field.element}")
                field.struct = self.registry[field.element]

    def flexible_range(self):
        return (self.first_flexible, MAX_VERSION) if self.first_flexible >= 0 else None

    def nested_in_order(self):
        """Nested structs, each after the structs its fields use."""
        done, order = set(), []

        def visit(struct):
            if struct.name in done:
                return
            done.add(struct.name)
            for field in struct.struct_fields():
                visit(field.struct)
            order.append(struct)

        for name in sorted(self.common_names):
            visit(self.registry[name])
        for field in self.top.struct_fields():
            visit(field.struct)
        for struct in self.registry.values():
            visit(struct)
        return order


# --- C++ expressions -----------------------------------------------------------

def version_condition(versions, valid):
    """A C++ condition for `version` in `versions`, given version is in `valid`."""
    span = intersect(versions, valid)
    if span is None:
        return "false"
    parts = []
    if span[0] > valid[0]:
        parts.append(f"version >= {span[0]}")
    if span[1] < valid[1]:
        parts.append(f"version <= {span[1]}")
    return " && ".join(parts) if parts else "true"


def guarded(condition, statement, indent="  "):
    if condition == "false":
        return []
    if condition == "true":
        return [indent + statement]
    return [f"{indent}if ({condition}) {statement}"]


class StructWriter:
    """Writes the declaration and the definitions of one struct."""

    def __init__(self, message, struct, is_top):
        self.message = message
        self.struct = struct
        self.is_top = is_top
        self.valid = message.valid
        self.has_flexible = intersect(message.flexible_range(), message.valid) is not None

    def flexible_expr(self):
        return version_condition(self.message.flexible_range(), self.valid)

    def format_expr(self, field, tagged):
        if tagged:
            compact = "true"
        elif field.never_compact:
            compact = "false"
        else:
            compact = "flexible"
        nullable = version_condition(field.nullable, self.valid)
        return f"{{version, {compact}, {nullable}}}"

    def tagged_fields(self):
        fields = [f for f in self.struct.fields
                  if f.tagged is not None and intersect(f.tagged_versions(), self.valid)]
        return sorted(fields, key=lambda f: f.tag)

    def presence_expr(self, field):
        condition = version_condition(field.tagged_versions(), self.valid)
        differs = f"!(this->{field.member} == decltype(this->{field.member}){{{field.default_init()}}})"
        return differs if condition == "true" else f"({condition}) && {differs}"

    # -- declaration --
    def declaration(self, aliases=()):
        name = self.struct.name
        lines = [f"struct {name} {{"]
        message = self.message
        if self.is_top:
            for alias in aliases:
                lines.append(f"  using {alias.name} = {alias.cpp_scope};")
            if message.kind == "request":
                lines.append(f"  using Response = {message.name[:-len('Request')]}Response;")
            lines.append(f"  static constexpr const char* message_name = \"{name}\";")
            if message.api_key is not None:
                lines.append(f"  static constexpr int16_t api_key = {message.api_key};")
            lines.append(f"  static constexpr int16_t min_version = {message.valid[0]};")
            lines.append(f"  static constexpr int16_t max_version = {message.valid[1]};")
            lines.append(f"  static constexpr int16_t first_flexible_version = "
                         f"{message.first_flexible};")
            lines.append("")
        for field in self.struct.fields:
            init = field.default_init()
            lines.append(f"  {field.cpp_type()} {field.member}{{{init}}};")
        if self.has_flexible:
            lines.append("  std::vector<TaggedField> unknown_tagged_fields;")
        lines.append("")
        lines.append("  void encode(WireWriter& writer, int16_t version) const;")
        lines.append("  size_t size(int16_t version) const;")
        lines.append("  Status decode(WireReader& reader, int16_t version);")
        lines.append(f"  bool operator==(const {name}&) const = default;")
        lines.append("};")
        return lines

    # -- definitions --
    def definitions(self):
        return (self.encode_definition() + [""] + self.size_definition() + [""] +
                self.decode_definition() + [""])

    def prologue(self):
        return ["  (void)version;  // unused by structs whose fields exist in every version",
                f"  [[maybe_unused]] const bool flexible = {self.flexible_expr()};"]

    def encode_definition(self):
        scope = self.struct.cpp_scope
        lines = [f"void {scope}::encode(WireWriter& writer, int16_t version) const {{"]
        if self.is_top:
            lines.append("  SLUICE_ASSERT(version >= min_version && version <= max_version, "
                         f"\"{self.struct.name}: encoding a version outside validVersions\");")
        lines += self.prologue()
        for field in self.struct.fields:
            condition = version_condition(field.untagged_versions(), self.valid)
            statement = f"wire::write(writer, this->{field.member}, {self.format_expr(field, False)});"
            lines += guarded(condition, statement)
        if self.has_flexible:
            tagged = self.tagged_fields()
            if not tagged:
                lines.append("  if (flexible) wire::write_tagged_fields(writer, unknown_tagged_fields);")
            else:
                lines.append("  if (flexible) {")
                for field in tagged:
                    lines.append(f"    const bool has_{field.tag} = {self.presence_expr(field)};")
                count = " + ".join(f"uint32_t{{has_{f.tag}}}" for f in tagged)
                lines.append(f"    wire::TaggedFieldsWriter tagged(writer, unknown_tagged_fields, {count});")
                for field in tagged:
                    lines.append(f"    if (has_{field.tag}) tagged.write({field.tag}, "
                                 f"this->{field.member}, {self.format_expr(field, True)});")
                lines.append("    tagged.finish();")
                lines.append("  }")
        lines.append("}")
        return lines

    def size_definition(self):
        scope = self.struct.cpp_scope
        lines = [f"size_t {scope}::size(int16_t version) const {{"]
        lines += self.prologue()
        lines.append("  size_t total = 0;")
        for field in self.struct.fields:
            condition = version_condition(field.untagged_versions(), self.valid)
            statement = (f"total += wire::size(this->{field.member}, "
                         f"{self.format_expr(field, False)});")
            lines += guarded(condition, statement)
        if self.has_flexible:
            tagged = self.tagged_fields()
            if not tagged:
                lines.append("  if (flexible) total += wire::tagged_fields_size(unknown_tagged_fields);")
            else:
                lines.append("  if (flexible) {")
                for field in tagged:
                    lines.append(f"    const bool has_{field.tag} = {self.presence_expr(field)};")
                count = " + ".join(f"uint32_t{{has_{f.tag}}}" for f in tagged)
                lines.append(f"    wire::TaggedFieldsSizer tagged(unknown_tagged_fields, {count});")
                for field in tagged:
                    lines.append(f"    if (has_{field.tag}) tagged.add({field.tag}, "
                                 f"this->{field.member}, {self.format_expr(field, True)});")
                lines.append("    total += tagged.total();")
                lines.append("  }")
        lines.append("  return total;")
        lines.append("}")
        return lines

    def decode_definition(self):
        scope = self.struct.cpp_scope
        name = self.struct.name
        lines = [f"Status {scope}::decode(WireReader& reader, int16_t version) {{"]
        lines.append(f"  *this = {name}{{}};  // fields absent in this version keep their defaults")
        if self.is_top:
            lines.append("  if (!wire::check_version(reader, version, min_version, max_version, "
                         "message_name))")
            lines.append("    return reader.status();")
        lines += self.prologue()
        for field in self.struct.fields:
            condition = version_condition(field.untagged_versions(), self.valid)
            statement = (f"wire::read(reader, this->{field.member}, "
                         f"{self.format_expr(field, False)});")
            lines += guarded(condition, statement)
        if self.has_flexible:
            tagged = self.tagged_fields()
            if not tagged:
                lines.append("  if (flexible) wire::read_tagged_fields(reader, unknown_tagged_fields);")
            else:
                lines.append("  if (flexible) {")
                lines.append("    wire::read_tagged_fields(reader, unknown_tagged_fields, "
                             "[&](uint32_t tag, WireReader& sub) {")
                lines.append("      switch (tag) {")
                for field in tagged:
                    condition = version_condition(field.tagged_versions(), self.valid)
                    lines.append(f"        case {field.tag}:")
                    read = (f"wire::read(sub, this->{field.member}, "
                            f"{self.format_expr(field, True)});")
                    if condition == "true":
                        lines.append(f"          {read}")
                        lines.append("          return true;")
                    else:
                        lines.append(f"          if (!({condition})) return false;")
                        lines.append(f"          {read}")
                        lines.append("          return true;")
                lines.append("        default:")
                lines.append("          return false;")
                lines.append("      }")
                lines.append("    });")
                lines.append("  }")
        lines.append("  return reader.status();")
        lines.append("}")
        return lines

    # -- random fill for property tests --
    def fill_definition(self):
        scope = self.struct.cpp_scope
        lines = [f"void fill({scope}& x, int16_t version) {{"]
        lines += self.prologue()
        for field in self.struct.fields:
            nullable = version_condition(field.nullable, self.valid)
            statement = f"fill_value(x.{field.member}, version, {nullable});"
            lines += guarded(version_condition(field.untagged_versions(), self.valid), statement)
            if field.tagged is not None:
                lines += guarded(version_condition(field.tagged_versions(), self.valid), statement)
        if self.has_flexible:
            known = ", ".join(str(f.tag) for f in self.struct.fields if f.tag is not None)
            lines.append(f"  if (flexible) fill_unknown_tags(x.unknown_tagged_fields, {{{known}}});")
        lines.append("}")
        return lines


# --- files ----------------------------------------------------------------------

PREAMBLE = "// Generated by src/protocol/generate.py from src/protocol/schema/messages.json. Do not edit.\n"


def header_path(message):
    if message.namespace:
        return f"protocol/{message.namespace}/{message.snake}.h"
    return f"protocol/messages/{message.snake}.h"


def cpp_namespace(message):
    suffix = f"::{message.namespace}" if message.namespace else ""
    return f"sluice::protocol{suffix}"


def message_header(message):
    nested = message.nested_in_order()
    lines = [PREAMBLE, "#pragma once", "", "#include <cstdint>", "#include <optional>",
             "#include <string>", "#include <vector>", "", "#include \"base/bytes.h\"",
             "#include \"base/result.h\"", "#include \"base/uuid.h\"",
             "#include \"protocol/records.h\"", "#include \"protocol/wire.h\"", "",
             f"namespace {cpp_namespace(message)} {{", ""]
    if message.kind == "request":
        lines.append(f"struct {message.name[:-len('Request')]}Response;")
        lines.append("")
    if nested:
        lines.append(f"namespace {message.detail_ns} {{")
        for struct in nested:
            lines += StructWriter(message, struct, False).declaration()
            lines.append("")
        lines.append(f"}}  // namespace {message.detail_ns}")
        lines.append("")
    lines += StructWriter(message, message.top, True).declaration(aliases=nested)
    lines += ["", f"}}  // namespace {cpp_namespace(message)}", ""]
    return "\n".join(lines)


def message_definitions(message):
    lines = []
    for struct in message.nested_in_order():
        lines += StructWriter(message, struct, False).definitions()
    lines += StructWriter(message, message.top, True).definitions()
    return lines


def chunk_source(messages, include_prefix=""):
    lines = [PREAMBLE]
    for message in messages:
        lines.append(f"#include \"{header_path(message)}\"")
    namespace = cpp_namespace(messages[0]) if messages else "sluice::protocol"
    lines += ["", f"namespace {namespace} {{", ""]
    for message in messages:
        lines += message_definitions(message)
    lines += [f"}}  // namespace {namespace}", ""]
    return "\n".join(lines)


def umbrella_header(messages):
    requests = [m for m in messages if m.kind == "request"]
    responses = [m for m in messages if m.kind == "response"]
    others = [m for m in messages if m.kind not in ("request", "response")]
    lines = [PREAMBLE, "#pragma once", "// Every generated message, and type lists to iterate over them.", ""]
    lines += [f"#include \"{header_path(m)}\"" for m in messages]
    lines += ["", "namespace sluice::protocol {", "",
              "template <class... T>", "struct TypeList {};", ""]
    for name, group in (("RequestTypes", requests), ("ResponseTypes", responses),
                        ("DataTypes", others)):
        lines.append(f"using {name} = TypeList<")
        lines.append(",\n".join(f"    {m.name}" for m in group) + ">;")
        lines.append("")
    lines += ["}  // namespace sluice::protocol", ""]
    return "\n".join(lines)


LISTENER_BITS = {"zkBroker": 1, "broker": 2, "controller": 4}


def api_table_source(messages):
    requests = sorted((m for m in messages if m.kind == "request"), key=lambda m: m.api_key)
    lines = [PREAMBLE, "#include \"protocol/api.h\"", "", "namespace sluice::protocol::detail {", "",
             "const ApiInfo api_infos[] = {"]
    for m in requests:
        listeners = " | ".join(str(LISTENER_BITS[x]) for x in m.listeners) or "0"
        name = m.name[:-len("Request")]
        unstable = "true" if m.unstable else "false"
        lines.append(f"    {{{m.api_key}, \"{name}\", {m.valid[0]}, {m.valid[1]}, "
                     f"{m.first_flexible}, {unstable}, static_cast<uint8_t>({listeners})}},")
    lines += ["};", "const size_t api_info_count = sizeof(api_infos) / sizeof(api_infos[0]);", "",
              "}  // namespace sluice::protocol::detail", ""]
    return "\n".join(lines)


def fill_header(messages):
    lines = [PREAMBLE, "#pragma once", "// Random values for every generated struct (tests only).", "",
             "#include \"protocol/messages.h\"", "", "namespace sluice::protocol::testing {", ""]
    for message in messages:
        for struct in message.nested_in_order() + [message.top]:
            lines.append(f"void fill({struct.cpp_scope}& x, int16_t version);")
    lines += ["", "}  // namespace sluice::protocol::testing", "",
              "#include \"fill_value.h\"  // after the declarations, so its templates see them", ""]
    return "\n".join(lines)


def fill_source(messages):
    lines = [PREAMBLE, "#include \"protocol_testing/fill.h\"", "",
             "namespace sluice::protocol::testing {", ""]
    for message in messages:
        for struct in message.nested_in_order():
            lines += StructWriter(message, struct, False).fill_definition() + [""]
        lines += StructWriter(message, message.top, True).fill_definition() + [""]
    lines += ["}  // namespace sluice::protocol::testing", ""]
    return "\n".join(lines)


def split_chunks(messages, count):
    """Groups messages into `count` chunks of similar size (by field count)."""
    def weight(message):
        total = 0
        for struct in message.nested_in_order() + [message.top]:
            total += 3 + len(struct.fields)
        return total
    chunks = [[] for _ in range(count)]
    loads = [0] * count
    for message in sorted(messages, key=weight, reverse=True):
        i = loads.index(min(loads))
        chunks[i].append(message)
        loads[i] += weight(message)
    return [sorted(chunk, key=lambda m: m.name) for chunk in chunks]


def all_outputs(messages, chunks):
    files = {}
    for message in messages:
        files[header_path(message)] = message_header(message)
    files["protocol/messages.h"] = umbrella_header(messages)
    files["protocol/api_table.cc"] = api_table_source(messages)
    for i, chunk in enumerate(chunks):
        files[f"protocol/messages_{i}.cc"] = chunk_source(chunk)
    files["protocol_testing/fill.h"] = fill_header(messages)
    for i, chunk in enumerate(chunks):
        files[f"protocol_testing/fill_{i}.cc"] = fill_source(chunk)
    return files


def records_umbrella_header(namespace, records):
    lines = [PREAMBLE, "#pragma once",
             f"// Every generated {namespace} record, and the type list RecordTypes.", "",
             "#include \"protocol/messages.h\"  // TypeList"]
    lines += [f"#include \"{header_path(m)}\"" for m in records]
    lines += ["", f"namespace sluice::protocol::{namespace} {{", "",
              "using RecordTypes = ::sluice::protocol::TypeList<"]
    lines.append(",\n".join(f"    {m.name}" for m in records) + ">;")
    lines += ["", f"}}  // namespace sluice::protocol::{namespace}", ""]
    return "\n".join(lines)


def extra_outputs(schema_path):
    schema = json.loads(pathlib.Path(schema_path).read_text())
    namespace = schema["namespace"]
    records = [Message(spec, namespace) for spec in schema["messages"]]
    files = {header_path(m): message_header(m) for m in records}
    files[f"protocol/{namespace}_records.h"] = records_umbrella_header(namespace, records)
    files[f"protocol/{namespace}_records.cc"] = chunk_source(records)
    return files


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("schema")
    parser.add_argument("out_dir")
    parser.add_argument("--chunks", type=int, default=8)
    parser.add_argument("--extra", action="append", default=[])
    parser.add_argument("--list", action="store_true")
    args = parser.parse_args()
    specs = json.loads(pathlib.Path(args.schema).read_text())["messages"]
    messages = [Message(spec) for spec in specs]
    chunks = split_chunks(messages, args.chunks)
    files = all_outputs(messages, chunks)
    for extra in args.extra:
        files.update(extra_outputs(extra))
    out_dir = pathlib.Path(args.out_dir)
    if args.list:
        print(";".join(str(out_dir / name) for name in sorted(files)))
        return
    for name, text in files.items():
        path = out_dir / name
        # Rewriting only changed files keeps incremental rebuilds cheap.
        if path.exists() and path.read_text() == text:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    # The stamp tells the build the generator ran even if nothing changed.
    (out_dir / "protocol" / "generated.stamp").write_text("")


if __name__ == "__main__":
    sys.exit(main())
