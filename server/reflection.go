package server

import (
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/reflection"
	v1reflectiongrpc "google.golang.org/grpc/reflection/grpc_reflection_v1"
	v1alphareflectiongrpc "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
)

// registerReflection serves server reflection (v1 and v1alpha) from the
// API's descriptors with their comments, so that grpcurl describe prints
// the documentation of every RPC and field. The descriptors compiled into
// the generated Go code carry no comments; other services (health,
// reflection itself) are described from those.
func registerReflection(srv *grpc.Server) error {
	files, err := sourceFiles(pb.SourceDescriptorSet())
	if err != nil {
		return fmt.Errorf("reflection descriptors: %w", err)
	}
	opts := reflection.ServerOptions{Services: srv, DescriptorResolver: commentedFirst{files}}
	v1reflectiongrpc.RegisterServerReflectionServer(srv, reflection.NewServerV1(opts))
	v1alphareflectiongrpc.RegisterServerReflectionServer(srv, reflection.NewServer(opts))
	return nil
}

// sourceFiles builds a registry from a serialized FileDescriptorSet.
func sourceFiles(b []byte) (*protoregistry.Files, error) {
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(b, &set); err != nil {
		return nil, err
	}
	return protodesc.NewFiles(&set)
}

// commentedFirst resolves from the commented set, then from the
// descriptors linked into the binary.
type commentedFirst struct{ files *protoregistry.Files }

// FindFileByPath implements protodesc.Resolver.
func (c commentedFirst) FindFileByPath(path string) (protoreflect.FileDescriptor, error) {
	if fd, err := c.files.FindFileByPath(path); err == nil {
		return fd, nil
	}
	return protoregistry.GlobalFiles.FindFileByPath(path)
}

// FindDescriptorByName implements protodesc.Resolver.
func (c commentedFirst) FindDescriptorByName(name protoreflect.FullName) (protoreflect.Descriptor, error) {
	if d, err := c.files.FindDescriptorByName(name); err == nil {
		return d, nil
	}
	return protoregistry.GlobalFiles.FindDescriptorByName(name)
}
