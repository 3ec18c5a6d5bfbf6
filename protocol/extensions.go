package protocol

// ListedServer is one entry of list_servers' result. Status is
// query_server's vocabulary ("active" for a running server, else
// Hetzner's status, or "provisioning"); Region is the location's name,
// Size the server type's, Image the image's name (its id when it has no
// name; "" when the image is gone); Created is RFC 3339.
type ListedServer struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Status     string            `json:"status"`
	ExternalIP string            `json:"external_ip"`
	InternalIP string            `json:"internal_ip"`
	Region     string            `json:"region"`
	Size       string            `json:"size"`
	Image      string            `json:"image"`
	Created    string            `json:"created"`
	Labels     map[string]string `json:"labels"`
}

// Image is one entry of list_images' result: a system image.
// Architecture is "x86" or "arm".
type Image struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Description  string `json:"description"`
	OSFlavor     string `json:"os_flavor"`
	OSVersion    string `json:"os_version"`
	Architecture string `json:"architecture"`
}

// StopBody is stop_server's second argument. Force false: a graceful
// shutdown, then a power-off when the server is not off after the
// configured wait; true: a power-off at once.
type StopBody struct {
	Force bool `json:"force"`
}
