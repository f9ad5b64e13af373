package records

// Scanner is one row to scan: *sql.Row, *sql.Rows, pgx.Row or pgx.Rows.
type Scanner = interface{ Scan(dest ...any) error }

// Rows is a result set of either driver: *sql.Rows or pgx.Rows.
type Rows interface {
	Scanner
	Next() bool
	Err() error
}

// Collect scans every row of rows with scan; the caller closes rows.
func Collect[T any](rows Rows, scan func(Scanner) (T, error)) ([]T, error) {
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
