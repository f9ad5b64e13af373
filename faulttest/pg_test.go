package faulttest

import (
	"context"
	"sync"
	"time"
)

// pgRestart keeps tests on the shared PostgreSQL cluster (read lock) apart
// from the test that restarts it (write lock).
var pgRestart sync.RWMutex

// riverClientOf returns the River client id (one per node) that last
// worked a revocation's job.
func (r *rig) riverClientOf(revocationID int64) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var id string
	err := r.db().QueryRowContext(ctx, `SELECT attempted_by[array_upper(attempted_by, 1)] FROM river_job
		WHERE kind = 'deprov_revocation' AND (args->>'revocationId')::bigint = $1
		ORDER BY id DESC LIMIT 1`, revocationID).Scan(&id)
	return id, err
}

// leader returns the node whose River client holds the cluster's
// leadership (it enqueues the schedules' jobs and rescues stuck ones), and
// the others.
func (r *rig) leader(nodes ...*node) (*node, []*node) {
	r.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var leaderID string
		err := r.db().QueryRowContext(context.Background(), `SELECT leader_id FROM river_leader`).Scan(&leaderID)
		if err == nil {
			for i, n := range nodes {
				ids := n.succeeded()
				if len(ids) == 0 {
					continue
				}
				client, err := r.riverClientOf(ids[0])
				if err == nil && client == leaderID {
					others := append(append([]*node{}, nodes[:i]...), nodes[i+1:]...)
					return n, others
				}
			}
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("no node is River's leader after 30 s (leader %q, %v)", leaderID, err)
		}
		time.Sleep(200 * time.Millisecond) // waiting for an election
	}
}
