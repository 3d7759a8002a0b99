package base

import (
	"context"
	"fmt"
	"slices"

	"google.golang.org/grpc"
)

// WithUnary returns a copy of desc whose unary method is served by handle,
// its request decoded into what newReq returns. A kind's server uses it to
// take and give batches as wire.BatchMessage, which the plugin server's
// codec (ServerOptions) moves without the generated messages. It panics
// when desc has no such method, a mistake in the SDK itself.
func WithUnary(desc *grpc.ServiceDesc, method string, newReq func() any, handle grpc.UnaryHandler) *grpc.ServiceDesc {
	d := *desc
	d.Methods = slices.Clone(desc.Methods)
	full := "/" + desc.ServiceName + "/" + method
	for i := range d.Methods {
		if d.Methods[i].MethodName != method {
			continue
		}
		d.Methods[i].Handler = func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
			in := newReq()
			if err := dec(in); err != nil {
				return nil, err
			}
			if interceptor == nil {
				return handle(ctx, in)
			}
			return interceptor(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: full}, handle)
		}
		return &d
	}
	panic(fmt.Sprintf("service %s has no method %s", desc.ServiceName, method))
}
