"""The LMS API's routers, one module per resource group of the seed."""
