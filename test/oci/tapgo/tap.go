// Package tap writes Test Anything Protocol (version 13) output.
//
// It is tsbox's own stand-in for the small TAP writer that the OCI runtime-tools validation
// programs import as "github.com/mndrix/tap-go": Debian packages runtime-tools' sources and every
// other dependency of the suite, but not that one, and the suite is built offline from Debian's
// packages only (scripts/oci-suites.sh copies this directory into the build's GOPATH under that
// import path). It implements exactly the calls the suite makes; the output is plain TAP that
// scripts/oci-report.mjs parses, so only the TAP grammar matters, not byte-for-byte likeness.
package tap

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// T is one TAP stream: it numbers the test points it writes.
type T struct {
	// next is shared with the TODO views that Todo returns, so the numbering stays one sequence.
	next *int
	// TODO marks the following test points as TODO (their failure is expected).
	TODO bool
	// Writer receives the output (standard output unless changed). Each line is written with
	// one unbuffered write, so a stream read back from a file after a crash is complete up to it.
	Writer io.Writer
}

// New returns a stream that writes to standard output, numbering from 1.
func New() *T {
	next := 1
	return &T{next: &next, Writer: os.Stdout}
}

// Todo returns a view of the stream whose test points are marked TODO.
func (t *T) Todo() *T {
	todo := *t
	todo.TODO = true
	return &todo
}

func (t *T) printf(format string, args ...interface{}) {
	w := t.Writer
	if w == nil {
		w = os.Stdout
	}
	fmt.Fprintf(w, format, args...)
}

// Header writes the version line and, when the number of test points is known in advance
// (testCount > 0), the plan. With 0 the plan comes at the end from AutoPlan.
func (t *T) Header(testCount int) {
	t.printf("TAP version 13\n")
	if testCount > 0 {
		t.printf("1..%d\n", testCount)
	}
}

// Ok writes one test point that passed when test is true.
func (t *T) Ok(test bool, description string) {
	status := "ok"
	if !test {
		status = "not ok"
	}
	description = oneLine(description)
	if t.TODO {
		t.printf("%s %d # TODO %s\n", status, *t.next, description)
	} else {
		t.printf("%s %d - %s\n", status, *t.next, description)
	}
	*t.next++
}

// Pass writes a passing test point.
func (t *T) Pass(description string) { t.Ok(true, description) }

// Fail writes a failing test point.
func (t *T) Fail(description string) { t.Ok(false, description) }

// Skip writes count skipped test points, all with the same reason.
func (t *T) Skip(count int, description string) {
	description = oneLine(description)
	for i := 0; i < count; i++ {
		t.printf("ok %d # SKIP %s\n", *t.next, description)
		*t.next++
	}
}

// Count is the number of test points written so far.
func (t *T) Count() int { return *t.next - 1 }

// AutoPlan writes the plan for the test points written so far (after Header(0)).
func (t *T) AutoPlan() { t.printf("1..%d\n", t.Count()) }

// Diagnostic writes a comment; a multi-line message becomes one comment line per line.
func (t *T) Diagnostic(message string) {
	for _, line := range strings.Split(strings.TrimRight(message, "\n"), "\n") {
		t.printf("# %s\n", line)
	}
}

// Diagnosticf is Diagnostic with a format.
func (t *T) Diagnosticf(format string, args ...interface{}) {
	t.Diagnostic(fmt.Sprintf(format, args...))
}

// YAML writes a YAML block attached to the previous test point. JSON is valid YAML 1.2 (and
// reads as YAML 1.1 for these flat maps), so the standard library's encoder is enough.
func (t *T) YAML(message interface{}) error {
	data, err := json.MarshalIndent(message, "  ", "  ")
	if err != nil {
		return err
	}
	t.printf("  ---\n  %s\n  ...\n", data)
	return nil
}

// A description must not break the TAP line it sits on.
func oneLine(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r", " "), "\n", " ")
}
