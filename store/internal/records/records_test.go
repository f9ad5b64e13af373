package records

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/deprov/deprov/audit"
	"github.com/deprov/deprov/store"
)

func auditEvent(action string, detail map[string]any) audit.Event {
	return audit.Event{Action: action, Detail: detail}
}

func TestKeptTime(t *testing.T) {
	t.Parallel()
	def := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	in := time.Date(2026, 5, 1, 10, 0, 0, 1_234_567, time.FixedZone("X", 3600))
	got := KeptTime(in, def)
	if want := time.Date(2026, 5, 1, 9, 0, 0, 1_234_000, time.UTC); !got.Equal(want) || got.Location() != time.UTC {
		t.Fatalf("KeptTime = %s, want %s", got, want)
	}
	if got := KeptTime(time.Time{}, def); !got.Equal(def) {
		t.Fatalf("zero: %s, want the default", got)
	}
}

func TestCeilMicro(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 5, 1, 10, 0, 0, 1_000, time.UTC)
	for _, tc := range []struct{ in, want time.Time }{
		{at, at},
		{at.Add(1), at.Add(time.Microsecond)},
		{at.Add(999), at.Add(time.Microsecond)},
	} {
		if got := CeilMicro(tc.in); !got.Equal(tc.want) {
			t.Errorf("CeilMicro(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestDistinct(t *testing.T) {
	t.Parallel()
	in := []int64{3, 1, 3, 2, 1}
	if got := Distinct(in); !slices.Equal(got, []int64{1, 2, 3}) {
		t.Fatalf("Distinct = %v", got)
	}
	if !slices.Equal(in, []int64{3, 1, 3, 2, 1}) {
		t.Fatalf("Distinct changed its input: %v", in)
	}
}

func TestJoinStates(t *testing.T) {
	t.Parallel()
	if got := JoinStates([]store.RevocationState{store.Scheduled, store.Running}); got != "scheduled or running" {
		t.Fatalf("JoinStates = %q", got)
	}
	if got := JoinStates[store.RunState](nil); got != "(none)" {
		t.Fatalf("JoinStates(nil) = %q", got)
	}
}

func TestNullString(t *testing.T) {
	t.Parallel()
	if NullString("") != nil || NullString("x") != "x" {
		t.Fatal("NullString")
	}
}

// fakeRows is a result set of ints.
type fakeRows struct {
	vals []int
	i    int
	err  error
}

func (r *fakeRows) Next() bool { r.i++; return r.i <= len(r.vals) }
func (r *fakeRows) Err() error { return r.err }
func (r *fakeRows) Scan(dest ...any) error {
	*dest[0].(*int) = r.vals[r.i-1]
	return nil
}

func scanInt(sc Scanner) (int, error) {
	var v int
	err := sc.Scan(&v)
	if v < 0 {
		return 0, errors.New("negative")
	}
	return v, err
}

func TestCollect(t *testing.T) {
	t.Parallel()
	got, err := Collect(&fakeRows{vals: []int{1, 2, 3}}, scanInt)
	if err != nil || !slices.Equal(got, []int{1, 2, 3}) {
		t.Fatalf("Collect = %v, %v", got, err)
	}
	if _, err := Collect(&fakeRows{vals: []int{1, -1}}, scanInt); err == nil {
		t.Fatal("a scan error was lost")
	}
	broken := errors.New("connection lost")
	if _, err := Collect(&fakeRows{err: broken}, scanInt); !errors.Is(err, broken) {
		t.Fatalf("Collect error %v, want the rows' error", err)
	}
}

func TestNewToken(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	tok, err := NewToken(&store.Token{Name: "ci", Hash: "h", LastUsed: now.Add(1)}, now)
	if err != nil {
		t.Fatal(err)
	}
	if !tok.CreatedAt.Equal(now) || !tok.LastUsed.Equal(now) || !tok.RevokedAt.IsZero() {
		t.Fatalf("token times %+v", tok)
	}
	for name, in := range map[string]*store.Token{"nil": nil, "no hash": {Name: "ci"}} {
		if _, err := NewToken(in, now); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if !errors.Is(ErrTokenExists, store.ErrConflict) {
		t.Fatal("ErrTokenExists is not a conflict")
	}
}

func TestHeldSync(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	held, ids, err := NewHeldSync(&store.HeldSync{SourceID: "hr", Reason: "too many leavers"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if held.State != store.HeldPending || !held.CreatedAt.Equal(now) || held.Rows != 0 || ids != "[]" {
		t.Fatalf("held %+v, identities %s", held, ids)
	}
	if _, _, err := NewHeldSync(&store.HeldSync{State: store.HeldApproved}, now); err == nil {
		t.Fatal("an approved delivery was held")
	}
	if _, _, err := NewHeldSync(nil, now); err == nil {
		t.Fatal("nil was held")
	}

	if err := CheckResolveTo(1, store.HeldPending); err == nil {
		t.Fatal("resolving to pending passed")
	}
	if err := ResolveHeld(&held, store.HeldApproved, "alice", now); err != nil {
		t.Fatal(err)
	}
	if held.State != store.HeldApproved || held.ResolvedBy != "alice" || !held.ResolvedAt.Equal(now) {
		t.Fatalf("resolved %+v", held)
	}
	if err := ResolveHeld(&held, store.HeldRejected, "bob", now); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second resolve: %v, want ErrConflict", err)
	}
}
