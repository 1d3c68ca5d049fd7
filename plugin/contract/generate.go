package contract

//go:generate protoc --proto_path=contractpb --go_out=contractpb --go_opt=paths=source_relative --go-grpc_out=contractpb --go-grpc_opt=paths=source_relative contractpb/swarmtx.proto
