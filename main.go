// Command terraform-provider-release serves the release provider to Terraform.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/releaseplan/terraform-provider-release/internal/provider"
)

// version is set by the build: goreleaser passes -ldflags "-X main.version=<version>"
// (.goreleaser.yml), so that the provider's metadata, its user agent and -version
// name the release the binary was built for.
var version = "dev"

func main() {
	var debug, showVersion bool
	flag.BoolVar(&debug, "debug", false, "run the provider with support for debuggers like delve")
	flag.BoolVar(&showVersion, "version", false, "print the provider's version and exit")
	flag.Parse()

	if showVersion {
		fmt.Fprintf(os.Stdout, "terraform-provider-release %s\n", version)
		return
	}

	err := providerserver.Serve(context.Background(), provider.New(version), providerserver.ServeOpts{
		Address: "registry.terraform.io/releaseplan/release",
		Debug:   debug,
	})
	if err != nil {
		log.Fatal(err.Error())
	}
}
