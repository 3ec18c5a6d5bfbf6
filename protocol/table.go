package protocol

import (
	"context"
	"net/http"
)

// Family says who calls a method: Nanobox (through the shim's HTTP
// routes) or BOSH (directly, as its CPI).
type Family int

// The families.
const (
	FamilyInfo    Family = iota // info: both
	FamilyNanobox               // the Nanobox custom-provider API
	FamilyBosh                  // the BOSH CPI API v2
)

// The Nanobox method names: one per Nanobox endpoint, plus info.
const (
	MethodInfo         = "info"
	MethodMeta         = "meta"
	MethodCatalog      = "catalog"
	MethodVerify       = "verify"
	MethodCreateKey    = "create_key"
	MethodQueryKey     = "query_key"
	MethodDeleteKey    = "delete_key"
	MethodOrderServer  = "order_server"
	MethodQueryServer  = "query_server"
	MethodCancelServer = "cancel_server"
	MethodInstallKey   = "install_key"
	MethodUpdateConfig = "update_config"
	MethodRebootServer = "reboot_server"
	MethodRenameServer = "rename_server"
)

// The Nanobox-family methods outside the Nanobox HTTP spec (Extension),
// for the libcloud driver and the Vagrant provider: no shim route.
const (
	MethodListServers = "list_servers"
	MethodStartServer = "start_server"
	MethodStopServer  = "stop_server"
	MethodListImages  = "list_images"
	MethodListKeys    = "list_keys"
)

// Endpoint is a method's Nanobox HTTP route. The path's {id} parameters,
// in order, are the method's ID arguments; its Body argument, when it has
// one, is the request body.
type Endpoint struct {
	Verb        string // HTTP method
	Path        string // relative to the base path
	Status      int    // status on success
	Result      bool   // the success response carries the result as its body
	OperationID string // the operationId in the Nanobox OpenAPI document
}

// Method is one entry of the method table: everything the protocol knows
// about one method.
type Method struct {
	Name   string
	Family Family
	Args   []Arg
	HTTP   *Endpoint // nil: no HTTP route (info, the extensions and the BOSH methods)

	// Extension: a Nanobox-family method outside the Nanobox HTTP spec (for
	// the libcloud driver and the Vagrant provider); it has no route, so
	// the shim neither serves it nor lists it in /openapi.json.
	Extension bool

	// RetrySafe: calling the method again after a call whose outcome is
	// unknown (it timed out, or was ended by a shutdown) cannot do harm
	// twice. It holds for reads; for orders and keys, which are idempotent
	// by name (a retry finds and answers what the first call made); and
	// for changes that set a state (cancel, config, rename, key install,
	// delete, metadata). It does not hold where a second call acts again
	// (a reboot reboots twice) or may make a second object (BOSH creates,
	// which have no name to be found by). The shim's retry advice
	// (X-Cpi-Ok-To-Retry, Retry-After) on its own 503 and 504 is this.
	RetrySafe bool

	// Exactly one of these binds the method to the CPI that serves it; a
	// BOSH method with neither always answers Bosh::Clouds::NotImplemented.
	nanobox func(ctx context.Context, cpi NanoboxCPI, call Call) (any, error)
	bosh    func(ctx context.Context, cpi BoshCPI, call Call) (any, error)
}

// Bound reports whether the method is bound to the CPI that serves it. A
// BOSH method that is not always answers Bosh::Clouds::NotImplemented.
func (m Method) Bound() bool { return m.Family == FamilyInfo || m.nanobox != nil || m.bosh != nil }

// NanoboxCPI is a CPI's side of the Nanobox methods, one Go method per
// protocol method. A NanoboxFactory makes one for each call.
type NanoboxCPI interface {
	Meta() (Meta, error)
	Catalog(ctx context.Context) ([]Region, error)
	Verify(ctx context.Context) error
	CreateKey(ctx context.Context, body KeyBody) (IDResult, error)
	QueryKey(ctx context.Context, id string) (Key, error)
	DeleteKey(ctx context.Context, id string) error
	OrderServer(ctx context.Context, body OrderServerBody) (IDResult, error)
	QueryServer(ctx context.Context, id string) (Server, error)
	CancelServer(ctx context.Context, id string) error
	InstallKey(ctx context.Context, id string, body KeyBody) error
	UpdateConfig(ctx context.Context, id string, body ConfigBody) error
	RebootServer(ctx context.Context, id string) error
	RenameServer(ctx context.Context, id string, body RenameBody) error

	// The extensions.
	ListServers(ctx context.Context) ([]ListedServer, error)
	StartServer(ctx context.Context, id string) error
	StopServer(ctx context.Context, id string, body StopBody) error
	ListImages(ctx context.Context) ([]Image, error)
	ListKeys(ctx context.Context) ([]Key, error)
}

// NanoboxFactory makes the NanoboxCPI that serves one call (the shape of
// bosh-cpi-go's apiv1.CPIFactory). It may refuse the call, e.g. with an
// Unauthorized error when the call needs credentials it lacks.
type NanoboxFactory interface {
	NewNanobox(call Call) (NanoboxCPI, error)
}

// nanoboxMethods is the Nanobox part of the method table, in the order of
// the spec.
var nanoboxMethods = []Method{
	{Name: MethodMeta, RetrySafe: true, HTTP: &Endpoint{http.MethodGet, "/meta", http.StatusOK, true, "meta"},
		nanobox: func(_ context.Context, c NanoboxCPI, _ Call) (any, error) { return c.Meta() }},
	{Name: MethodCatalog, RetrySafe: true, HTTP: &Endpoint{http.MethodGet, "/catalog", http.StatusOK, true, "catalog"},
		nanobox: func(ctx context.Context, c NanoboxCPI, _ Call) (any, error) { return c.Catalog(ctx) }},
	{Name: MethodVerify, RetrySafe: true, HTTP: &Endpoint{http.MethodPost, "/verify", http.StatusOK, false, "verify"},
		nanobox: func(ctx context.Context, c NanoboxCPI, _ Call) (any, error) { return nil, c.Verify(ctx) }},
	{Name: MethodCreateKey, RetrySafe: true, Args: []Arg{Body[KeyBody]()}, HTTP: &Endpoint{http.MethodPost, "/keys", http.StatusCreated, true, "create-ssh-key"},
		nanobox: func(ctx context.Context, c NanoboxCPI, k Call) (any, error) {
			return c.CreateKey(ctx, BodyOf[KeyBody](k))
		}},
	{Name: MethodQueryKey, RetrySafe: true, Args: []Arg{ID("key id")}, HTTP: &Endpoint{http.MethodGet, "/keys/{id}", http.StatusCreated, true, "query-ssh-key"},
		nanobox: func(ctx context.Context, c NanoboxCPI, k Call) (any, error) { return c.QueryKey(ctx, k.ID(0)) }},
	{Name: MethodDeleteKey, RetrySafe: true, Args: []Arg{ID("key id")}, HTTP: &Endpoint{http.MethodDelete, "/keys/{id}", http.StatusOK, false, "delete-ssh-key"},
		nanobox: func(ctx context.Context, c NanoboxCPI, k Call) (any, error) { return nil, c.DeleteKey(ctx, k.ID(0)) }},
	{Name: MethodOrderServer, RetrySafe: true, Args: []Arg{Body[OrderServerBody]()}, HTTP: &Endpoint{http.MethodPost, "/servers", http.StatusCreated, true, "order-server"},
		nanobox: func(ctx context.Context, c NanoboxCPI, k Call) (any, error) {
			return c.OrderServer(ctx, BodyOf[OrderServerBody](k))
		}},
	{Name: MethodQueryServer, RetrySafe: true, Args: []Arg{ID("server id")}, HTTP: &Endpoint{http.MethodGet, "/servers/{id}", http.StatusCreated, true, "query-server"},
		nanobox: func(ctx context.Context, c NanoboxCPI, k Call) (any, error) { return c.QueryServer(ctx, k.ID(0)) }},
	{Name: MethodCancelServer, RetrySafe: true, Args: []Arg{ID("server id")}, HTTP: &Endpoint{http.MethodDelete, "/servers/{id}", http.StatusOK, false, "cancel-server"},
		nanobox: func(ctx context.Context, c NanoboxCPI, k Call) (any, error) { return nil, c.CancelServer(ctx, k.ID(0)) }},
	{Name: MethodInstallKey, RetrySafe: true, Args: []Arg{ID("server id"), Body[KeyBody]()}, HTTP: &Endpoint{http.MethodPatch, "/servers/{id}/keys", http.StatusOK, false, "install-server-key"},
		nanobox: func(ctx context.Context, c NanoboxCPI, k Call) (any, error) {
			return nil, c.InstallKey(ctx, k.ID(0), BodyOf[KeyBody](k))
		}},
	{Name: MethodUpdateConfig, RetrySafe: true, Args: []Arg{ID("server id"), Body[ConfigBody]()}, HTTP: &Endpoint{http.MethodPatch, "/servers/{id}/config", http.StatusOK, false, "update-server-config"},
		nanobox: func(ctx context.Context, c NanoboxCPI, k Call) (any, error) {
			return nil, c.UpdateConfig(ctx, k.ID(0), BodyOf[ConfigBody](k))
		}},
	// A second reboot_server reboots the server again.
	{Name: MethodRebootServer, RetrySafe: false, Args: []Arg{ID("server id")}, HTTP: &Endpoint{http.MethodPatch, "/servers/{id}/reboot", http.StatusOK, false, "reboot-server"},
		nanobox: func(ctx context.Context, c NanoboxCPI, k Call) (any, error) { return nil, c.RebootServer(ctx, k.ID(0)) }},
	{Name: MethodRenameServer, RetrySafe: true, Args: []Arg{ID("server id"), Body[RenameBody]()}, HTTP: &Endpoint{http.MethodPatch, "/servers/{id}/rename", http.StatusOK, false, "rename-server"},
		nanobox: func(ctx context.Context, c NanoboxCPI, k Call) (any, error) {
			return nil, c.RenameServer(ctx, k.ID(0), BodyOf[RenameBody](k))
		}},
}

// extensionMethods are the Nanobox-family methods outside the Nanobox HTTP
// spec. A second stop_server or start_server finds the server as the first
// left it, so both are safe to retry.
var extensionMethods = []Method{
	{Name: MethodListServers, RetrySafe: true,
		nanobox: func(ctx context.Context, c NanoboxCPI, _ Call) (any, error) { return c.ListServers(ctx) }},
	{Name: MethodStartServer, RetrySafe: true, Args: []Arg{ID("server id")},
		nanobox: func(ctx context.Context, c NanoboxCPI, k Call) (any, error) { return nil, c.StartServer(ctx, k.ID(0)) }},
	{Name: MethodStopServer, RetrySafe: true, Args: []Arg{ID("server id"), Body[StopBody]()},
		nanobox: func(ctx context.Context, c NanoboxCPI, k Call) (any, error) {
			return nil, c.StopServer(ctx, k.ID(0), BodyOf[StopBody](k))
		}},
	{Name: MethodListImages, RetrySafe: true,
		nanobox: func(ctx context.Context, c NanoboxCPI, _ Call) (any, error) { return c.ListImages(ctx) }},
	{Name: MethodListKeys, RetrySafe: true,
		nanobox: func(ctx context.Context, c NanoboxCPI, _ Call) (any, error) { return c.ListKeys(ctx) }},
}

// Table is the one method table: info, the Nanobox methods in the order of
// the spec, the extensions, then the BOSH methods. Routes, Signatures, the dispatcher's
// argument checks and info's method list are all derived from it.
var Table = buildTable()

var tableIndex = func() map[string]int {
	idx := make(map[string]int, len(Table))
	for i, m := range Table {
		idx[m.Name] = i
	}
	return idx
}()

func buildTable() []Method {
	t := []Method{{Name: MethodInfo, RetrySafe: true, Family: FamilyInfo}}
	for _, m := range nanoboxMethods {
		m.Family = FamilyNanobox
		t = append(t, m)
	}
	for _, m := range extensionMethods {
		m.Family, m.Extension = FamilyNanobox, true
		t = append(t, m)
	}
	for _, m := range boshMethods {
		m.Family = FamilyBosh
		t = append(t, m)
	}
	return t
}

// Lookup returns the table entry of the method called name.
func Lookup(name string) (Method, bool) {
	i, ok := tableIndex[name]
	if !ok {
		return Method{}, false
	}
	return Table[i], true
}
