// `import --change`: Dockerfile instructions → image config.
import { describe, expect, it } from "vitest";
import { UsageError } from "../src/errors.js";
import { parseChanges } from "../src/image/import-changes.js";

describe("parseChanges", () => {
  it("is empty without changes", () => {
    expect(parseChanges([])).toEqual({});
  });

  it("CMD and ENTRYPOINT in exec and shell form", () => {
    expect(parseChanges(['CMD ["/bin/echo", "hi there"]'])).toEqual({ Cmd: ["/bin/echo", "hi there"] });
    expect(parseChanges(["CMD echo $HOME  'x'"])).toEqual({ Cmd: ["/bin/sh", "-c", "echo $HOME  'x'"] });
    expect(parseChanges(["cmd []"])).toEqual({ Cmd: [] });
    // Not valid JSON: shell form, as in a Dockerfile.
    expect(parseChanges(["CMD [not json"])).toEqual({ Cmd: ["/bin/sh", "-c", "[not json"] });
    expect(parseChanges(['ENTRYPOINT ["/app"]', 'CMD ["--help"]'])).toEqual({ Entrypoint: ["/app"], Cmd: ["--help"] });
    expect(parseChanges(["ENTRYPOINT top -b"])).toEqual({ Entrypoint: ["/bin/sh", "-c", "top -b"], Cmd: null });
    // A CMD given alongside survives ENTRYPOINT.
    expect(parseChanges(["CMD x", "ENTRYPOINT y"])).toEqual({ Cmd: ["/bin/sh", "-c", "x"], Entrypoint: ["/bin/sh", "-c", "y"] });
  });

  it("refuses non-string JSON arrays and missing arguments", () => {
    expect(() => parseChanges(['CMD ["a", 1]'])).toThrow("when using JSON array syntax, arrays must be comprised of strings only");
    expect(() => parseChanges(["CMD"])).toThrow("CMD requires at least one argument");
    expect(() => parseChanges(["USER"])).toThrow("USER requires exactly one argument");
    expect(() => parseChanges(["ENV"])).toThrow("ENV requires at least one argument");
    expect(() => parseChanges(["ENV A"])).toThrow("ENV must have two arguments");
    expect(() => parseChanges(["ENV A=1 B"])).toThrow(/can't find = in "B"/);
  });

  it("ENV: key=value pairs, legacy form, quotes, expansion, replacement", () => {
    expect(parseChanges(["ENV A=1 B=\"two words\" C='$A' D=$A E=${A}x F=${NOPE:-dflt} G=\\$A"])).toEqual({
      // Expansion sees the ENV from earlier instructions only, as Docker does.
      Env: ["A=1", "B=two words", "C=$A", "D=", "E=x", "F=dflt", "G=$A"],
    });
    expect(parseChanges(["ENV A=1", "ENV B=$A:${A:+set} C=${A}"])).toEqual({ Env: ["A=1", "B=1:set", "C=1"] });
    expect(parseChanges(["ENV PATH /usr/bin:/bin", "ENV GREETING hello   world"])).toEqual({
      Env: ["PATH=/usr/bin:/bin", "GREETING=hello   world"],
    });
    expect(parseChanges(["ENV A=1 B=2", "ENV A=3"])).toEqual({ Env: ["A=3", "B=2"] });
    expect(() => parseChanges(["ENV =x"])).toThrow("ENV names can not be blank");
    expect(() => parseChanges(['ENV A="open'])).toThrow(/matching double-quote/);
  });

  it("LABEL, WORKDIR, USER, STOPSIGNAL", () => {
    expect(parseChanges(['LABEL a=b "c d"="e f"', "LABEL legacy value here"])).toEqual({
      Labels: { a: "b", "c d": "e f", legacy: "value here" },
    });
    expect(parseChanges(["WORKDIR /srv", "WORKDIR app", "WORKDIR ../x"])).toEqual({ WorkingDir: "/srv/x" });
    expect(parseChanges(["WORKDIR rel"])).toEqual({ WorkingDir: "/rel" });
    expect(parseChanges(["ENV U=1000", "USER $U:100"])).toEqual({ Env: ["U=1000"], User: "1000:100" });
    expect(parseChanges(["STOPSIGNAL SIGINT"])).toEqual({ StopSignal: "SIGINT" });
    expect(parseChanges(["STOPSIGNAL 9"])).toEqual({ StopSignal: "9" });
    expect(parseChanges(["STOPSIGNAL term"])).toEqual({ StopSignal: "term" });
    expect(() => parseChanges(["STOPSIGNAL SIGNOPE"])).toThrow("Invalid signal: SIGNOPE");
    expect(() => parseChanges(["STOPSIGNAL 0"])).toThrow("Invalid signal: 0");
  });

  it("EXPOSE and VOLUME", () => {
    expect(parseChanges(["EXPOSE 80 53/udp 8000-8002/TCP"])).toEqual({
      ExposedPorts: { "80/tcp": {}, "53/udp": {}, "8000/tcp": {}, "8001/tcp": {}, "8002/tcp": {} },
    });
    expect(() => parseChanges(["EXPOSE http"])).toThrow("Invalid containerPort: http");
    expect(() => parseChanges(["EXPOSE 80/icmp"])).toThrow("Invalid proto: icmp");
    expect(() => parseChanges(["EXPOSE 70000"])).toThrow(UsageError);
    expect(parseChanges(['VOLUME ["/data", "/logs"]', "VOLUME /a /b"])).toEqual({
      Volumes: { "/data": {}, "/logs": {}, "/a": {}, "/b": {} },
    });
    expect(() => parseChanges(['VOLUME [""]'])).toThrow("VOLUME specified can not be an empty string");
  });

  it("joins continuation lines and skips comments, like a Dockerfile", () => {
    expect(parseChanges(["ENV A=1 \\\n  B=2", "# a comment", "  cmd echo \\\n hi"])).toEqual({
      Env: ["A=1", "B=2"],
      Cmd: ["/bin/sh", "-c", "echo  hi"],
    });
    // Docker joins --change values with newlines, so one value may hold several instructions.
    expect(parseChanges(["USER nobody\nWORKDIR /tmp"])).toEqual({ User: "nobody", WorkingDir: "/tmp" });
  });

  it("refuses instructions `import --change` does not allow", () => {
    for (const instr of ["RUN echo", "FROM scratch", "COPY a b", "ADD a b", "bogus x"]) {
      let err: unknown;
      try {
        parseChanges([instr]);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(UsageError);
      expect((err as Error).message).toBe(`${instr.split(" ")[0]?.toLowerCase()} is not a valid change command`);
    }
  });
});
