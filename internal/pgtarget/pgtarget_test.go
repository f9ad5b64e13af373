package pgtarget_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/deprov/deprov/internal/pgtarget"
)

func TestMain(m *testing.M) { os.Exit(pgtarget.Main(m)) }

func TestStart(t *testing.T) {
	t.Parallel()
	a, b := pgtarget.Start(t), pgtarget.Start(t)
	if a == b {
		t.Fatalf("two Start calls gave one database: %s", a)
	}
	ctx := t.Context()
	ca := pgtarget.Conn(t, a)
	if _, err := ca.Exec(ctx, `CREATE TABLE x (v int)`); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := pgtarget.Conn(t, b).QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE tablename = 'x'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("second database sees the first's table: %d, %v", n, err)
	}
	var addr string
	if err := ca.QueryRow(ctx, `SELECT host(inet_server_addr())`).Scan(&addr); err != nil || addr != "127.0.0.1" {
		t.Fatalf("server address %q, %v; want loopback", addr, err)
	}
}

func TestStartParallel(t *testing.T) {
	t.Parallel()
	for range 8 {
		t.Run("", func(t *testing.T) {
			t.Parallel()
			var one int
			if err := pgtarget.Conn(t, pgtarget.Start(t)).QueryRow(t.Context(), `SELECT 1`).Scan(&one); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestStartFrom(t *testing.T) {
	t.Parallel()
	prepared := 0
	prepare := func(ctx context.Context, url string) error {
		prepared++
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, `CREATE TABLE seeded (v int); INSERT INTO seeded VALUES (42)`)
		return err
	}
	// A name of this run's own: with -count, the cluster and what was
	// prepared on it outlive a run.
	name := fmt.Sprintf("seeded-%p", &prepared)
	for i := range 3 {
		url := pgtarget.StartFrom(t, name, prepare)
		conn := pgtarget.Conn(t, url)
		var v int
		if err := conn.QueryRow(t.Context(), `SELECT v FROM seeded`).Scan(&v); err != nil || v != 42 {
			t.Fatalf("copy %d: %d, %v", i, v, err)
		}
		if _, err := conn.Exec(t.Context(), `UPDATE seeded SET v = 0`); err != nil {
			t.Fatal(err)
		}
	}
	if prepared != 1 {
		t.Fatalf("prepared %d times", prepared)
	}
}
