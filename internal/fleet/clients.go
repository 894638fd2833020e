package fleet

import "context"

// Clients returns the NSS clients of the NSS endpoint named endpoint, as
// Systems knows them: every client seen, connected or not, in first-seen
// order, from a list asked afresh once it is older than ClientTTL. The
// error is that of the last GET_CLIENTINFO, if it failed (the clients seen
// before are returned with it, not connected). An endpoint that is not an
// NSS server has no clients.
func (f *Fleet) Clients(ctx context.Context, endpoint string) ([]Stack, error) {
	e := f.byEP[endpoint]
	if e == nil || e.Kind != NSS {
		return nil, nil
	}
	return e.clientList(ctx, f, false)
}
