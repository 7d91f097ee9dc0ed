package api

import (
	"database/sql"

	"lightnvr/pkg/testkit"
)

// rawSQL is a second pool on the test's database, for seeding and
// inspecting rows the API offers no way to.
func (e *authEnv) rawSQL() *sql.DB { return testkit.SQL(e.t, e.db.Path()) }
